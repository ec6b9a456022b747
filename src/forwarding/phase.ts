/** Where a client connection is in its current request; read by the exchange and the tunnel too. */

export const enum Phase {
  /** waiting for (the rest of) a request head */
  Head,
  /** a request's body is on its way to the node */
  Body,
  /** the request is read whole; its answer is on its way */
  Wait,
  /** an upgrade: bytes pass both ways untouched */
  Tunnel,
  /** cutover ended its side; what still arrives is read and dropped */
  Closing,
}
