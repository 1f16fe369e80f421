// The smoke checks an environment declares in steward.config.yaml (app.smokeChecks, app.stagingChecks): the §9
// checklist for any app, as HTTP checks. Pure judging apart from the one loop that makes the requests.
import { resolveSecret } from '../../config/secrets';
import type { SmokeCheckConfig } from '../../config/schema';
import type { HttpSession } from './client';

export class SmokeFailure extends Error {
  override name = 'SmokeFailure';
}

function expect(cond: boolean, detail: string): asserts cond {
  if (!cond) throw new SmokeFailure(detail);
}

/** A form POST always writes; any other check writes only when the config says so. */
export function checkWrites(check: SmokeCheckConfig): boolean {
  return check.kind === 'form' || check.writes === true;
}

/** The value at a dotted path of a parsed JSON answer (numeric segments index arrays); undefined when absent. */
export function jsonField(value: unknown, field: string): unknown {
  let at: unknown = value;
  for (const seg of field.split('.')) {
    if (Array.isArray(at) && /^\d+$/.test(seg)) at = at[Number(seg)];
    else if (at !== null && typeof at === 'object' && Object.prototype.hasOwnProperty.call(at, seg)) at = (at as Record<string, unknown>)[seg];
    else return undefined;
  }
  return at;
}

/** The hashed names of the files a collectstatic manifest (staticfiles.json, {"paths": {source: hashed}}) lists. */
export function manifestFiles(text: string, files: readonly string[] | undefined, max: number): { source: string; hashed: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SmokeFailure('the static manifest is not JSON (is the storage ManifestStaticFilesStorage?)');
  }
  const paths = (parsed as { paths?: unknown })?.paths;
  expect(!!paths && typeof paths === 'object' && !Array.isArray(paths), 'the static manifest has no "paths" object');
  const map = paths as Record<string, unknown>;
  const wanted = files ?? Object.keys(map).sort().slice(0, max);
  expect(wanted.length > 0, 'the static manifest lists no file');
  return wanted.map((source) => {
    const hashed = map[source];
    expect(typeof hashed === 'string' && /^[A-Za-z0-9._@+\/-]+$/.test(hashed) && !hashed.split('/').includes('..'), `the static manifest does not list ${source}`);
    return { source, hashed };
  });
}

const brief = (body: string) => body.replace(/\s+/g, ' ').slice(0, 160);

/**
 * Runs one declared check in the session (a login check logs the session in for the checks after it). Returns
 * the detail for the record; throws SmokeFailure with what was wrong. The password of a login check never
 * reaches a detail.
 */
export async function runDeclaredCheck(s: HttpSession, check: SmokeCheckConfig): Promise<string> {
  switch (check.kind) {
    case 'page': {
      const r = await s.get(check.path);
      expect(r.status === check.expectStatus, `GET ${check.path} answered ${r.status}, expected ${check.expectStatus}`);
      if (check.expectText !== undefined) expect(r.body.includes(check.expectText), `GET ${check.path} lacks ${JSON.stringify(check.expectText)}`);
      return `${r.status} in ${r.ms} ms`;
    }
    case 'json': {
      const r = await s.get(check.path);
      expect(r.status === check.expectStatus, `GET ${check.path} answered ${r.status}, expected ${check.expectStatus}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        throw new SmokeFailure(`GET ${check.path} is not JSON: ${brief(r.body)}`);
      }
      const got = jsonField(parsed, check.field);
      expect(got === check.equals, `GET ${check.path}: ${check.field} is ${got === undefined ? 'absent' : JSON.stringify(got)}, expected ${JSON.stringify(check.equals)}`);
      return `${check.field} = ${JSON.stringify(got)}`;
    }
    case 'login': {
      const form = await s.get(check.path);
      expect(form.status === 200, `GET ${check.path} (the login form) answered ${form.status}`);
      expect(s.cookie('csrftoken') !== undefined, `GET ${check.path} set no csrftoken cookie: the CSRF handshake cannot be made`);
      const password = resolveSecret(check.password).reveal();
      const r = await s.request('POST', check.path, { [check.usernameField]: check.username, [check.passwordField]: password });
      const location = r.location ?? '';
      expect(r.status === 302 || r.status === 303, `login of ${check.username} answered ${r.status}${r.status === 403 ? ' (CSRF refused?)' : ''}, expected a redirect`);
      expect(!new URL(location, 'http://x').pathname.startsWith(check.path), `login of ${check.username} was sent back to the login page`);
      return `${check.username} logged in (to ${new URL(location, 'http://x').pathname})`;
    }
    case 'static': {
      const base = check.staticUrl.endsWith('/') ? check.staticUrl : `${check.staticUrl}/`;
      const m = await s.get(`${base}${check.manifest}`);
      expect(m.status === 200, `GET ${base}${check.manifest} (the collectstatic manifest) answered ${m.status}`);
      const files = manifestFiles(m.body, check.files, check.max);
      for (const f of files) {
        const r = await s.get(`${base}${f.hashed}`);
        expect(r.status === 200, `static file ${f.source} (${base}${f.hashed}) answered ${r.status}`);
      }
      return `${files.length} files of ${check.manifest} served`;
    }
    case 'no-server-errors': {
      for (const p of check.paths) {
        const r = await s.get(p);
        expect(r.status < 500, `GET ${p} answered ${r.status}`);
      }
      return `${check.paths.length} pages without a server error`;
    }
    case 'form': {
      await s.get(check.path);
      const r = await s.request('POST', check.path, check.fields);
      expect(r.status === check.expectStatus, `POST ${check.path} answered ${r.status}, expected ${check.expectStatus}: ${brief(r.body)}`);
      if (check.expectLocation !== undefined) {
        const at = r.location ? new URL(r.location, 'http://x').pathname : '';
        expect(at.startsWith(check.expectLocation), `POST ${check.path} went to ${at || 'nowhere'}, expected ${check.expectLocation}…`);
      }
      return `POST ${check.path} answered ${r.status}${r.location ? ` → ${new URL(r.location, 'http://x').pathname}` : ''}`;
    }
  }
}
