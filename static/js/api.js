// HTTP client for the live2d-notify API (docs/api.md): JSON in, JSON out, one error shape.

/** An API error: `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Build a client for the API at `apiBase` ("" = same origin as the page). */
export function createApi(apiBase) {
  const base = String(apiBase || "").replace(/\/+$/, "");

  async function request(method, path, { token, body } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "Cannot reach the server.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retryAfter = Number(response.headers.get("Retry-After")) || 0;
      throw new ApiError(response.status, error.code || `http_${response.status}`,
        error.message || response.statusText || "Request failed.", retryAfter);
    }
    return data;
  }

  return {
    base,
    /** The server's public address, for snippets: the API base, or this page's origin. */
    origin: base || window.location.origin,
    url: (path) => base + path,
    request,
  };
}
