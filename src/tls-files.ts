/**
 * A listener's certificate and key (`proxy.tls`, `control.tls`): read from files at start
 * and again on SIGHUP, so a renewed certificate (cert-manager, a rotated Secret) is served
 * without a restart; a file that cannot be read or does not make a key pair keeps the
 * running one, with the reason.
 */

import type { Server as TlsServer } from 'node:tls'

const { readFileSync } = process.getBuiltinModule('node:fs')
const { createSecureContext } = process.getBuiltinModule('node:tls')

export interface TlsFiles {
  cert: string
  key: string
}

export interface TlsMaterial {
  cert: Buffer
  key: Buffer
}

/** Read and check a certificate and key; throws an Error naming the config key (`proxy.tls`), the file or the mismatch. */
export function readTls(files: TlsFiles, key: string): TlsMaterial {
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw new Error(`${key}.${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
  }
  const material = { cert: read('cert', files.cert), key: read('key', files.key) }
  try {
    // a cert and key that do not belong together fail here, not at the next handshake
    createSecureContext(material)
  } catch (err) {
    throw new Error(`${key}: ${files.cert} and ${files.key} are not a usable certificate and key (${(err as Error).message})`)
  }
  return material
}

/** Serve new connections with the files' certificate from now on; connections open keep theirs. */
export function reloadTls(server: TlsServer, files: TlsFiles, key: string): void {
  server.setSecureContext(readTls(files, key))
}
