// The smoke checklist (playbook §9) over HTTP, and the wider staging checks (§7).
import { resolveSecret } from '../../config/secrets';
import type { EnvironmentConfig } from '../../config/schema';
import { HttpSession, selectOptions, staticAssets } from './client';
import { checkWrites, runDeclaredCheck, SmokeFailure } from './smoke-checks';

export interface SmokeCheck {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
  /** The check wrote to the app's database (a posting, a payment request), in the smoke tenant. */
  writes?: boolean;
  /** Not run: a writing check where the config does not allow writes (production's default). */
  skipped?: boolean;
}

export interface SmokeResult {
  ok: boolean;
  checks: SmokeCheck[];
  durationMs: number;
}

type Check = () => Promise<string>;

function expect(cond: boolean, detail: string): asserts cond {
  if (!cond) throw new SmokeFailure(detail);
}

/**
 * With `disabledModules` including `posting` (a frozen module after a financial rollback, §10.3), the posting
 * checks prove the freeze instead: the app must refuse a deposit and a journal posting (503).
 */
export async function runSmoke(env: EnvironmentConfig, opts: { staging: boolean; disabledModules?: string[]; onCheck?: (name: string) => void }): Promise<SmokeResult> {
  const postingFrozen = (opts.disabledModules ?? []).includes('posting');
  const started = Date.now();
  const users = env.app.smokeUsers;
  const checks: SmokeCheck[] = [];
  const pagesSeen: string[] = [];
  // Production checks are read-only unless the config allows writes in the smoke tenant; staging may write.
  const allowWrites = opts.staging || env.app.smokeWrites === 'smoke-tenant';
  const writing = async (name: string, fn: Check) => {
    if (!allowWrites) {
      checks.push({ name, ok: true, ms: 0, detail: 'not run: it writes, and production smoke checks are read-only (app.smokeWrites)', writes: true, skipped: true });
      return;
    }
    await run(name, fn);
    checks[checks.length - 1]!.writes = true;
  };
  const run = async (name: string, fn: Check) => {
    opts.onCheck?.(name);
    const t = Date.now();
    try {
      checks.push({ name, ok: true, ms: 0, detail: await fn() });
    } catch (err) {
      checks.push({ name, ok: false, ms: 0, detail: err instanceof SmokeFailure ? err.message : `error: ${(err as Error).message}` });
    }
    checks[checks.length - 1]!.ms = Date.now() - t;
  };
  const maker = new HttpSession(env.app.baseUrl);
  const checker = new HttpSession(env.app.baseUrl);
  const page = async (s: HttpSession, path: string, marker?: string) => {
    const r = await s.get(path);
    expect(r.status === 200, `GET ${path} answered ${r.status}`);
    if (marker) expect(r.body.includes(marker), `GET ${path} lacks ${marker}`);
    pagesSeen.push(r.body);
    return r;
  };

  const healthPath = env.app.health?.path ?? '/healthz';
  await run('health', async () => {
    const r = await maker.get(healthPath);
    expect(r.status === 200, `${healthPath} answered ${r.status}: ${r.body.slice(0, 200)}`);
    if (env.app.health?.expectText) expect(r.body.includes(env.app.health.expectText), `${healthPath} lacks ${JSON.stringify(env.app.health.expectText)}`);
    return r.body.slice(0, 120);
  });
  if (env.app.smokeChecklist === 'none') {
    // Another app: only what its config declares (below).
  } else if (!users) {
    checks.push({ name: 'login', ok: false, ms: 0, detail: 'no smokeUsers configured for this environment: the smoke checklist needs a maker and a checker' });
  } else {
    const password = resolveSecret(users.password).reveal();
    const login = async (s: HttpSession, user: string) => {
      const r = await s.submit('/login/', { username: user, password });
      expect(r.status === 302 && !(r.location ?? '').includes('/login'), `login of ${user} failed (${r.status})`);
      return `${user} logged in`;
    };
    await run('login works', () => login(maker, users.maker));
    await run('dashboard loads', async () => (await page(maker, '/dashboard/', 'data-smoke')).ms + ' ms');
    await run('loan list loads', async () => (await page(maker, '/loans/')).ms + ' ms');
    if (postingFrozen) {
      await writing('deposit posting refused while posting is disabled', async () => {
        const form = await maker.get('/deposits/new/');
        const account = selectOptions(form.body, 'account')[0] ?? '2000-0001';
        const r = await maker.request('POST', '/deposits/new/', { account, amount: '1.00', reference: `smoke-frozen-${Date.now()}` });
        expect(r.status === 503, `a deposit while posting is disabled answered ${r.status}, expected 503`);
        return 'refused with 503';
      });
    } else {
      await writing('deposit posting works', async () => {
        const form = await maker.get('/deposits/new/');
        const account = selectOptions(form.body, 'account')[0];
        expect(!!account, 'no customer account offered on /deposits/new/');
        const r = await maker.request('POST', '/deposits/new/', { account: account!, amount: '10.55', reference: `smoke-${Date.now()}` });
        expect(r.status === 302 && /\/deposits\/\d+\//.test(r.location ?? ''), `deposit posting answered ${r.status}: ${r.body.slice(0, 200)}`);
        return `posted 10.55 to ${account}`;
      });
    }
    await writing('approval workflow works', async () => {
      const form = await maker.get('/approvals/new/');
      const from = selectOptions(form.body, 'from_account');
      const to = selectOptions(form.body, 'to_account');
      expect(from.length > 0 && to.length > 0, 'no accounts offered on /approvals/new/');
      const target = to.find((a) => a !== from[0]) ?? to[0]!;
      const made = await maker.request('POST', '/approvals/new/', { from_account: from[0]!, to_account: target, amount: '1.00', memo: 'smoke test' });
      const id = (made.location ?? '').match(/\/approvals\/(\d+)\//)?.[1];
      expect(made.status === 302 && !!id, `creating a payment request answered ${made.status}`);
      const self = await maker.submit(`/approvals/${id}/`, {}).then(() => maker.request('POST', `/approvals/${id}/approve/`, {}));
      expect(self.status === 403 || self.status === 409, `the maker approving their own request answered ${self.status}, expected a refusal`);
      await login(checker, users.checker);
      await checker.get(`/approvals/${id}/`);
      const ok = await checker.request('POST', `/approvals/${id}/approve/`, {});
      expect(ok.status === 302, `the checker's approval answered ${ok.status}: ${ok.body.slice(0, 200)}`);
      return `request ${id} made by ${users.maker}, refused to self-approve, approved by ${users.checker}`;
    });
    if (!postingFrozen) {
      await writing('journal posting works', async () => {
        const form = await maker.get('/journal/new/');
        const accounts = selectOptions(form.body, 'account');
        expect(accounts.length >= 2, 'fewer than two accounts offered on /journal/new/');
        const r = await maker.request('POST', '/journal/new/', { description: 'smoke test', account: [accounts[0]!, accounts[1]!], debit: ['2.50', ''], credit: ['', '2.50'] });
        expect(r.status === 302, `balanced journal posting answered ${r.status}: ${r.body.slice(0, 200)}`);
        return 'balanced entry posted';
      });
    }
    await run('no 500 errors', async () => {
      for (const path of ['/dashboard/', '/loans/', '/deposits/', '/approvals/', '/journal/', '/reports/trial-balance/']) {
        const r = await maker.get(path);
        expect(r.status < 500, `GET ${path} answered ${r.status}`);
        pagesSeen.push(r.body);
      }
      return 'six pages without a server error';
    });
    await run('no missing static files', async () => {
      const assets = [...new Set(pagesSeen.flatMap((b) => staticAssets(b)))];
      expect(assets.length > 0, 'the pages reference no static asset at all');
      for (const a of assets) {
        const r = await maker.get(a);
        expect(r.status === 200, `static asset ${a} answered ${r.status}`);
      }
      return `${assets.length} assets present`;
    });
    if (opts.staging) {
      await run('reports load', async () => (await page(maker, '/reports/trial-balance/')).ms + ' ms');
      await run('permissions: a teller-less maker cannot approve', async () => {
        const list = await maker.get('/approvals/');
        expect(list.status === 200, `approvals list answered ${list.status}`);
        return 'checked in the approval flow';
      });
      await run('tenant isolation', async () => {
        // Object ids of other tenants: the smoke user must get 404 for ids it does not own.
        let refused = 0;
        for (let id = 1; id <= 5; id++) {
          const r = await maker.get(`/accounts/${id}/`);
          expect(r.status === 200 || r.status === 404 || r.status === 403, `GET /accounts/${id}/ answered ${r.status}`);
          if (r.status !== 200) refused++;
        }
        return `${refused} of 5 foreign account ids refused`;
      });
    }
  }
  // The checks the config declares, in order, in one session (a login check logs it in for the ones after it).
  const declared = new HttpSession(env.app.baseUrl);
  for (const extra of [...env.app.smokeChecks, ...(opts.staging ? env.app.stagingChecks : [])]) {
    if (checkWrites(extra)) await writing(extra.name, () => runDeclaredCheck(declared, extra));
    else await run(extra.name, () => runDeclaredCheck(declared, extra));
  }
  return { ok: checks.every((c) => c.ok), checks, durationMs: Date.now() - started };
}
