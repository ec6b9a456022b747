/** A real gRPC service for the tests of issue 12 (@grpc/grpc-js, JSON messages: gRPC does not care). */

import * as grpc from '@grpc/grpc-js'

export interface Msg {
  n: number
  text?: string
}

const json = {
  requestSerialize: (m: Msg) => Buffer.from(JSON.stringify(m)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as Msg,
  responseSerialize: (m: Msg) => Buffer.from(JSON.stringify(m)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as Msg,
}

/** test.Echo: one method of each kind. */
export const ECHO_SERVICE = {
  unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, ...json },
  serverStream: { path: '/test.Echo/ServerStream', requestStream: false, responseStream: true, ...json },
  clientStream: { path: '/test.Echo/ClientStream', requestStream: true, responseStream: false, ...json },
  bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, ...json },
} satisfies grpc.ServiceDefinition

export type EchoClient = grpc.Client & {
  unary(m: Msg, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void): grpc.ClientUnaryCall
  serverStream(m: Msg, options?: grpc.CallOptions): grpc.ClientReadableStream<Msg>
  clientStream(cb: (err: grpc.ServiceError | null, res?: Msg) => void): grpc.ClientWritableStream<Msg>
  bidi(): grpc.ClientDuplexStream<Msg, Msg>
}

const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo')

/** A client of test.Echo at host:port over h2c (or TLS with insecure-skip: the test certificate's CA). */
export function echoClient(address: string, credentials = grpc.credentials.createInsecure()): EchoClient {
  return new EchoClientCtor(address, credentials, { 'grpc.enable_retries': 0 }) as unknown as EchoClient
}

/** unary as a promise: the answer or the ServiceError. */
export function callUnary(client: EchoClient, m: Msg, options: grpc.CallOptions = {}): Promise<{ res?: Msg; err?: grpc.ServiceError }> {
  return new Promise((resolve) => client.unary(m, options, (err, res) => resolve(err ? { err } : { res })))
}

export interface EchoBehaviour {
  /** answer unary calls with this status instead (UNAVAILABLE for a failing y) */
  fail?: () => grpc.status | undefined
  /** ms before a unary answer */
  delayMs?: number
}

export interface EchoServer {
  port: number
  address: string
  served: number
  /** unary calls the client cancelled (a deadline passed on the way) */
  cancelled: number
  server: grpc.Server
  close(): Promise<void>
}

/** A test.Echo server on 127.0.0.1:0, h2c. */
export async function startEchoServer(name: string, behaviour: EchoBehaviour = {}): Promise<EchoServer> {
  const server = new grpc.Server()
  const state = { served: 0, cancelled: 0 }
  server.addService(ECHO_SERVICE, {
    unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      state.served++
      const code = behaviour.fail?.()
      call.on('cancelled', () => state.cancelled++)
      const answer = () => {
        if (code !== undefined) cb({ code, details: `${name} says no` })
        else cb(null, { n: call.request.n * 2, text: name })
      }
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs)
      else answer()
    },
    serverStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      for (let i = 0; i < call.request.n; i++) call.write({ n: i, text: name })
      call.end()
    },
    clientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      let sum = 0
      call.on('data', (m: Msg) => (sum += m.n))
      call.on('end', () => cb(null, { n: sum, text: name }))
    },
    bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => call.write({ n: m.n + 1, text: name }))
      call.on('end', () => call.end())
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))))
  return {
    port,
    address: `127.0.0.1:${port}`,
    get served() {
      return state.served
    },
    get cancelled() {
      return state.cancelled
    },
    server,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  }
}
