// Web Worker: reads a file once, part by part, and hashes it there, so
// the page stays responsive. Posts each part's MD5 (S3 checks it as the
// part's Content-MD5) as soon as it is known, then the whole file's sha256
// (the site compares it with its own). Holds one part in memory at a time.
import { createMD5, createSHA256 } from 'hash-wasm'

self.onmessage = async (event) => {
  const { file, partSize } = event.data
  try {
    const md5 = await createMD5()
    const sha256 = await createSHA256()
    sha256.init()
    const partCount = Math.max(1, Math.ceil(file.size / partSize))
    for (let index = 0; index < partCount; index++) {
      const start = index * partSize
      const bytes = new Uint8Array(
        await file.slice(start, Math.min(file.size, start + partSize)).arrayBuffer())
      md5.init()
      md5.update(bytes)
      sha256.update(bytes)
      self.postMessage({ part: index + 1, md5: md5.digest('binary'), read: start + bytes.length })
    }
    self.postMessage({ sha256: sha256.digest('hex') })
  } catch (error) {
    self.postMessage({ error: String(error && error.message ? error.message : error) })
  }
}
