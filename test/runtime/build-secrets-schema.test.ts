/**
 * $.build.secrets and $.build.repositories[].auth at validate time: names by the variables' rule,
 * no clash with $.variables or $.secrets, and no repository password written in mpimg.json.
 */
import { describe, expect, it } from 'vitest';
import { MINIMAL_MANIFEST } from '../helpers/minimal-manifest.js';
import { validateManifest } from '../../runtime/manifest.js';

const KEY = { url: 'https://repo.acme.example/key.asc', fingerprint: 'A'.repeat(40) };
const repo = (auth: unknown) => ({
  name: 'acme-private',
  uris: 'https://repo.acme.example/apt',
  suites: ['stable'],
  key: KEY,
  auth,
});
const problems = (extra: Record<string, unknown>, build: Record<string, unknown>) =>
  validateManifest({ ...MINIMAL_MANIFEST, ...extra, build: { packages: ['nginx'], ...build } }).problems;

describe('$.build.secrets', () => {
  it('takes named secrets with a description, and repository credentials that name them', () => {
    expect(
      problems(
        {},
        {
          secrets: [{ name: 'LICENSE_KEY', description: 'from the vendor portal' }, { name: 'REPO_TOKEN' }],
          repositories: [repo({ username: 'deploy', password: '{{build.secret.REPO_TOKEN}}' })],
        },
      ),
    ).toEqual([]);
    expect(
      problems(
        {},
        {
          secrets: [{ name: 'REPO_USER' }, { name: 'REPO_TOKEN' }],
          repositories: [repo({ username: '{{build.secret.REPO_USER}}', password: '{{build.secret.REPO_TOKEN}}' })],
        },
      ),
    ).toEqual([]);
  });

  it('refuses bad, reserved, doubled and clashing names at their $.path', () => {
    const p = problems(
      { variables: { APP_VERSION: '1.0' }, secrets: [{ name: 'DB_PASSWORD' }] },
      {
        secrets: [
          { name: 'lower' },
          { name: 'PATH' },
          { name: 'MPIMG_X' },
          { name: 'KEY_A' },
          { name: 'KEY_A' },
          { name: 'APP_VERSION' },
          { name: 'DB_PASSWORD' },
          { name: 'K', value: 'inline' },
        ],
      },
    );
    const at = (i: number) => p.filter((x) => x.path.startsWith(`$.build.secrets[${i}]`)).map((x) => x.message);
    expect(at(0).join()).toMatch(/bad build secret name/);
    expect(at(1).join()).toMatch(/"PATH" is reserved/);
    expect(at(2).join()).toMatch(/"MPIMG_X" is reserved/);
    expect(at(3)).toEqual([]);
    expect(at(4).join()).toMatch(/two build secrets named "KEY_A"/);
    expect(at(5).join()).toMatch(/also a name of \$\.variables/);
    expect(at(6).join()).toMatch(/also a name of \$\.secrets/);
    // a value has no place in mpimg.json
    expect(at(7).join()).toMatch(/value/);
  });

  it('refuses a repository password written in mpimg.json, an undeclared secret and shell characters', () => {
    const p = (auth: unknown) =>
      problems({}, { secrets: [{ name: 'REPO_TOKEN' }], repositories: [repo(auth)] }).filter((x) =>
        x.path.startsWith('$.build.repositories[0].auth'),
      );
    const literal = p({ username: 'deploy', password: 's3cret-token' });
    expect(literal.map((x) => [x.path, x.message])).toEqual([
      ['$.build.repositories[0].auth.password', 'a repository password is written in mpimg.json'],
    ]);
    expect(literal[0].hint).toMatch(/--secret REPO_TOKEN=@file/);
    expect(p({ username: 'deploy', password: '{{build.secret.OTHER}}' })[0].message).toBe(
      '{{build.secret.OTHER}} is not a secret of $.build.secrets',
    );
    expect(p({ username: 'a b$(id)', password: '{{build.secret.REPO_TOKEN}}' })[0].path).toBe(
      '$.build.repositories[0].auth.username',
    );
    expect(p({ username: 'deploy' })[0].message).toMatch(/password/);
    // HTTP basic auth sends "user:password": a ':' in the user name would move the rest into the password
    const colon = p({ username: 'acme:deploy', password: '{{build.secret.REPO_TOKEN}}' });
    expect(colon.map((x) => x.path)).toEqual(['$.build.repositories[0].auth.username']);
    expect(colon[0].hint).toMatch(/":" \(HTTP basic auth ends the name there\)/);
  });

  it('refuses "auth" on a PPA (add-apt-repository would drop it), saying how a private PPA is reached', () => {
    const ppa = {
      name: 'acme-ppa',
      ppa: 'acme/tools',
      auth: { username: 'deploy', password: '{{build.secret.REPO_TOKEN}}' },
    };
    const p = problems({}, { secrets: [{ name: 'REPO_TOKEN' }], repositories: [ppa] });
    expect(p.map((x) => [x.path, x.message])).toEqual([
      ['$.build.repositories[0].auth', 'a PPA takes no "auth": add-apt-repository reaches public PPAs only'],
    ]);
    expect(p[0].hint).toMatch(/private-ppa\.launchpadcontent\.net\/<owner>\/<name>\/ubuntu/);
    expect(p[0].hint).toMatch(/"uris"/);
    // per distribution too, at its own path; without "auth" a PPA stays fine
    const per = problems(
      {},
      { secrets: [{ name: 'REPO_TOKEN' }], repositories: { 'ubuntu-24-04-x64': [repo(undefined), ppa] } },
    );
    expect(per.map((x) => x.path)).toEqual(['$.build.repositories.ubuntu-24-04-x64[1].auth']);
    expect(problems({}, { repositories: [{ name: 'acme-ppa', ppa: 'acme/tools' }] })).toEqual([]);
  });
});
