/**
 * Who asked for a change through the control API (issue 14): the role of the token and
 * the remote address. The control server runs each mutating request inside withActor;
 * the event log stamps the actor onto the events of that request whose cause is `api`,
 * wherever in the call chain they are raised (the state controller, the rollout runner).
 * Events with another cause (a rollout step hours later, a gate) are never stamped, even
 * when a timer started by the request raises them.
 */

const { AsyncLocalStorage } = process.getBuiltinModule('node:async_hooks')

export type Role = 'operator' | 'viewer'

export interface Actor {
  role: Role
  /** the client's address as the control listener saw it */
  remote: string
}

const current = new AsyncLocalStorage<Actor>()

/** Run fn with actor as the one acting; what fn awaits inherits it. */
export function withActor<T>(actor: Actor, fn: () => T): T {
  return current.run(actor, fn)
}

/** The actor of the request being served, if any. */
export function currentActor(): Actor | undefined {
  return current.getStore()
}
