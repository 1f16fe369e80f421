// A small HTTP client with a cookie jar and Django's CSRF handshake, for smoke tests against the real app.
export class HttpSession {
  #cookies = new Map<string, string>();
  constructor(readonly baseUrl: string) {}

  #store(res: Response): void {
    const set = (res.headers as unknown as { getSetCookie?: () => string[] }).getSetCookie?.() ?? [];
    for (const line of set) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) this.#cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }

  cookie(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string | string[]>): Promise<{ status: number; body: string; location: string | null; ms: number }> {
    const started = Date.now();
    const headers: Record<string, string> = { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
    let body: string | undefined;
    if (form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
      const token = this.cookie('csrftoken');
      if (token) params.set('csrfmiddlewaretoken', token);
      body = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.referer = new URL(path, this.baseUrl).toString();
    }
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    this.#store(res);
    const text = await res.text();
    return { status: res.status, body: text, location: res.headers.get('location'), ms: Date.now() - started };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  /** GET the form first (CSRF cookie), then POST it. */
  async submit(path: string, form: Record<string, string | string[]>) {
    await this.get(path);
    return this.request('POST', path, form);
  }
}

/** Values of the <option>s of a named <select>. */
export function selectOptions(html: string, name: string): string[] {
  const select = html.match(new RegExp(`<select[^>]*name="${name}"[^>]*>([\\s\\S]*?)</select>`));
  if (!select) return [];
  return [...select[1]!.matchAll(/<option[^>]*value="([^"]+)"/g)].map((m) => m[1]!).filter(Boolean);
}

/** Static assets a page references (link href, script src, img src under the static prefix). */
export function staticAssets(html: string, prefix = '/static/'): string[] {
  const out = new Set<string>();
  for (const m of html.matchAll(/(?:href|src)="([^"]+)"/g)) if (m[1]!.startsWith(prefix)) out.add(m[1]!);
  return [...out];
}
