// CKAN's action API from the page, as CKAN's own JS calls it: the session
// cookie plus the CSRF token of the page's <meta> tags.

function csrfHeaders () {
  const field = document.querySelector('meta[name="csrf_field_name"]')
  const token = field && document.querySelector(`meta[name="${field.content}"]`)
  return token ? { 'X-CSRFToken': token.content } : {}
}

// CKAN's error object in one line: its message, or each field's errors
function describe (error) {
  if (!error) return 'no answer'
  if (error.message) return error.message
  return Object.entries(error)
    .filter(([key]) => !key.startsWith('__'))
    .map(([key, value]) => `${key}: ${[].concat(value).join(' ')}`)
    .join('; ') || error.__type || 'error'
}

export class ActionError extends Error {
  constructor (action, status, message) {
    super(`${action}: ${message}`)
    this.status = status
    // for Uppy's retry rules: 4xx are not retried, others are
    this.source = { status }
  }
}

export default class CkanApi {
  constructor (siteRoot) {
    this.root = siteRoot.endsWith('/') ? siteRoot : `${siteRoot}/`
  }

  async call (action, data, signal) {
    let response
    try {
      response = await fetch(`${this.root}api/3/action/${action}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', ...csrfHeaders() },
        body: JSON.stringify(data),
        signal,
      })
    } catch (error) {
      if (error.name === 'AbortError') throw error
      throw new ActionError(action, 0, 'the site did not answer')
    }
    let reply = null
    try {
      reply = await response.json()
    } catch {
      throw new ActionError(action, response.status, `HTTP ${response.status}`)
    }
    if (!reply.success) throw new ActionError(action, response.status, describe(reply.error))
    return reply.result
  }
}
