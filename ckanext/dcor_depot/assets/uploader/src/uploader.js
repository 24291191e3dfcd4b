// The resource form's uploader: Uppy's Dashboard and its S3 multipart
// plugin, signed part by part by the site's resource_upload_multipart_*
// actions. Each file becomes one resource. No byte passes through CKAN.
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import AwsS3 from '@uppy/aws-s3'
import '@uppy/core/css/style.min.css'
import '@uppy/dashboard/css/style.min.css'
import './uploader.css'

import CkanApi from './ckan-api.js'
import FileHashes from './file-hashes.js'

// back-off between the tries of a part or a signing request (ms)
const RETRY_DELAYS = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
const VERIFY_POLL_MS = 2000
// headers a page may not set: the browser sends them itself
const BROWSER_HEADERS = new Set(['content-length', 'host'])

function stripQuotes (etag) {
  return String(etag).replace(/^"|"$/g, '')
}

export function mount (element) {
  const api = new CkanApi(element.dataset.siteRoot)
  const packageId = element.dataset.packageId
  const results = element.querySelector('.dcor-upload-results')
  // Uppy file id -> { resourceId, uploadId, partSize, partCount, hashes }
  const uploads = new Map()
  // file data -> part size chosen by the site (Uppy's getChunkSize sees
  // the data only)
  const partSizes = new WeakMap()

  const uppy = new Uppy({ id: 'dcor-uploader', autoProceed: false })
  uppy.use(Dashboard, {
    inline: true,
    target: element.querySelector('.dcor-uploader-dashboard'),
    width: '100%',
    height: 420,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
    note: element.dataset.note,
  })

  function resultLine (file) {
    let line = results.querySelector(`[data-file-id="${CSS.escape(file.id)}"]`)
    if (!line) {
      line = document.createElement('li')
      line.dataset.fileId = file.id
      results.appendChild(line)
    }
    return line
  }

  function show (file, state, text, link) {
    const line = resultLine(file)
    line.className = `dcor-upload-result dcor-upload-${state}`
    line.textContent = `${file.name}: ${text}`
    if (link) {
      const anchor = document.createElement('a')
      anchor.href = link
      anchor.textContent = element.dataset.viewText || 'view'
      line.append(' ', anchor)
    }
  }

  // Start (or find again, after a reload) the file's multipart upload
  // before Uppy sends a byte; Uppy then resumes it: it lists the parts S3
  // holds and sends only the others.
  async function prepare (file) {
    const known = uploads.get(file.id)
    if (known && !known.aborted) return
    const started = await api.call('resource_upload_multipart_create', {
      package_id: packageId,
      name: file.name,
      file_size: file.size,
      last_modified: file.data.lastModified,
    })
    const state = {
      resourceId: started.resource_id,
      uploadId: started.upload_id,
      partSize: started.part_size,
      partCount: started.part_count,
      hashes: new FileHashes(file.data, started.part_size),
      aborted: false,
    }
    uploads.set(file.id, state)
    partSizes.set(file.data, state.partSize)
    uppy.setFileState(file.id, {
      s3Multipart: { uploadId: state.uploadId, key: state.resourceId },
    })
    uppy.setFileMeta(file.id, { resource_id: state.resourceId })
  }

  uppy.addPreProcessor(async (fileIDs) => {
    await Promise.all(fileIDs.map(async (id) => {
      const file = uppy.getFile(id)
      try {
        await prepare(file)
      } catch (error) {
        uppy.setFileState(id, { error: error.message })
        uppy.emit('upload-error', file, error)
        show(file, 'error', error.message)
      }
    }))
  })

  function stateOf (file) {
    const state = uploads.get(file.id)
    if (!state) throw new Error(`${file.name}: no upload was started`)
    return state
  }

  function abort (file) {
    const state = uploads.get(file.id)
    if (!state || state.aborted) return Promise.resolve()
    state.aborted = true
    state.hashes.stop()
    uploads.delete(file.id)
    show(file, 'cancelled', element.dataset.cancelledText || 'cancelled')
    return api.call('resource_upload_multipart_abort', { resource_id: state.resourceId })
  }

  uppy.use(AwsS3, {
    shouldUseMultipart: true,
    limit: 4,
    retryDelays: RETRY_DELAYS,
    getChunkSize: (data) => partSizes.get(data),
    async createMultipartUpload (file) {
      await prepare(file)
      const state = stateOf(file)
      return { uploadId: state.uploadId, key: state.resourceId }
    },
    async listParts (file, { signal }) {
      const held = await api.call('resource_upload_multipart_list_parts',
        { resource_id: stateOf(file).resourceId }, signal)
      return [].concat(held.parts || held).map((part) => ({
        PartNumber: part.part_number, ETag: part.etag, Size: part.size,
      }))
    },
    async signPart (file, { partNumber, signal }) {
      const state = stateOf(file)
      const contentMd5 = await state.hashes.contentMd5(partNumber)
      const signed = await api.call('resource_upload_multipart_sign_part', {
        resource_id: state.resourceId,
        part_number: partNumber,
        content_md5: contentMd5,
      }, signal)
      const headers = Object.fromEntries(Object.entries(signed.headers || {})
        .filter(([name]) => !BROWSER_HEADERS.has(name.toLowerCase())))
      headers['Content-MD5'] ??= contentMd5
      return { method: 'PUT', url: signed.url, headers }
    },
    async completeMultipartUpload (file, { parts, signal }) {
      const state = stateOf(file)
      show(file, 'completing', element.dataset.completingText || 'completing')
      const [sha256, etag] = await Promise.all([
        state.hashes.sha256, state.hashes.multipartEtag()])
      const resource = await api.call('resource_upload_multipart_complete', {
        resource_id: state.resourceId,
        parts: parts.map((part) => ({
          part_number: part.PartNumber, etag: stripQuotes(part.ETag),
        })),
        etag,
        sha256,
      }, signal)
      uploads.delete(file.id)
      watchVerification(file, resource)
      return { location: resourceUrl(resource) }
    },
    abortMultipartUpload: (file) => abort(file),
  })

  // a file removed while it was being prepared has no uploader to abort it
  uppy.on('file-removed', (file) => { abort(file).catch(() => {}) })
  uppy.on('cancel-all', () => {
    for (const file of uppy.getFiles()) abort(file).catch(() => {})
  })

  function resourceUrl (resource) {
    return `${api.root}dataset/${resource.package_id}/resource/${resource.id}`
  }

  // The site compares the browser's sha256 with its own (from the
  // object, in its backup job): the page shows the outcome while it is open.
  function watchVerification (file, resource) {
    const link = resourceUrl(resource)
    show(file, 'verifying', element.dataset.verifyingText || 'uploaded; verifying', link)
    const poll = async () => {
      let current
      try {
        current = await api.call('resource_show', { id: resource.id })
      } catch {
        setTimeout(poll, VERIFY_POLL_MS)
        return
      }
      if (current.upload_verification === 'failed') {
        const text = element.dataset.failedText ||
          'verification FAILED: the site computed another sha256 than your browser'
        show(file, 'failed', text, link)
        uppy.info(`${file.name}: ${text}`, 'error', 60000)
      } else if (current.upload_verification === 'verified') {
        show(file, 'verified', `${element.dataset.verifiedText || 'verified'} (sha256 ${current.sha256})`, link)
      } else {
        setTimeout(poll, VERIFY_POLL_MS)
      }
    }
    setTimeout(poll, VERIFY_POLL_MS)
  }

  return uppy
}

// Without JavaScript the page keeps CKAN's classic file field; with it,
// the uploader replaces that field.
function start () {
  const element = document.querySelector('[data-dcor-uploader]')
  if (!element) return
  for (const classic of document.querySelectorAll('.dcor-classic-file-field')) {
    classic.hidden = true
  }
  element.hidden = false
  window.dcorUploader = mount(element)
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start)
} else {
  start()
}
