// The page's side of the hash worker: promises of each part's MD5 and of
// the file's sha256, for one file.
import { md5 } from 'hash-wasm'
import workerSource from 'dcor:hash-worker'

let workerUrl = null

function toBase64 (bytes) {
  let text = ''
  for (const byte of bytes) text += String.fromCharCode(byte)
  return btoa(text)
}

export default class FileHashes {
  constructor (file, partSize) {
    this.partCount = Math.max(1, Math.ceil(file.size / partSize))
    this.md5s = new Map() // part number -> Uint8Array(16)
    this.waiting = new Map() // part number -> [resolve, reject][]
    this.failure = null
    this.sha256 = new Promise((resolve, reject) => {
      this.resolveSha256 = resolve
      this.rejectSha256 = reject
    })
    // the rejection reaches whoever awaits; unawaited it is no error
    this.sha256.catch(() => {})
    workerUrl ??= URL.createObjectURL(
      new Blob([workerSource], { type: 'text/javascript' }))
    this.worker = new Worker(workerUrl)
    this.worker.onmessage = (event) => this.#received(event.data)
    this.worker.onerror = (event) => this.#fail(new Error(event.message || 'hashing failed'))
    this.worker.postMessage({ file, partSize })
  }

  #received (message) {
    if (message.error) {
      this.#fail(new Error(`reading the file failed: ${message.error}`))
    } else if (message.sha256) {
      this.resolveSha256(message.sha256)
      this.worker.terminate()
    } else {
      this.md5s.set(message.part, message.md5)
      for (const [resolve] of this.waiting.get(message.part) || []) resolve(message.md5)
      this.waiting.delete(message.part)
    }
  }

  #fail (error) {
    this.failure = error
    for (const list of this.waiting.values()) for (const [, reject] of list) reject(error)
    this.waiting.clear()
    this.rejectSha256(error)
    this.worker.terminate()
  }

  #md5 (part) {
    if (this.md5s.has(part)) return Promise.resolve(this.md5s.get(part))
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      if (!this.waiting.has(part)) this.waiting.set(part, [])
      this.waiting.get(part).push([resolve, reject])
    })
  }

  // Content-MD5 of a part: base64 of its MD5
  async contentMd5 (part) {
    return toBase64(await this.#md5(part))
  }

  // S3's ETag of the completed upload: the MD5 of the parts' MD5s, "-N"
  async multipartEtag () {
    const digests = []
    for (let part = 1; part <= this.partCount; part++) digests.push(await this.#md5(part))
    const joined = new Uint8Array(16 * digests.length)
    digests.forEach((digest, index) => joined.set(digest, 16 * index))
    return `${await md5(joined)}-${this.partCount}`
  }

  stop () {
    this.worker.terminate()
  }
}
