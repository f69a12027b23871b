// The manifest's TypeScript type and its schema cannot disagree: runtime/manifest.ts fails `tsc`
// (npm run typecheck, npm run build) when a key is on one side only, differs in optionality or in
// type. The expectTypeOf lines are checked by `npm run typecheck`; the compiler runs below prove the
// real files fail to compile once a mismatch is planted in a section module.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { MANIFEST_SCHEMA } from '../../runtime/manifest-schema.js';
import type { Manifest } from '../../runtime/manifest.js';
import type { Mismatches } from '../../runtime/schema-agreement.js';
import type { TypeOf } from '../../runtime/schema.js';
import type { BuildSection } from '../../runtime/sections/build.js';
import { anyOf, int, nil, obj, oneOf, str, strings } from '../../runtime/sections/common.js';
import type { Service } from '../../runtime/sections/services.js';
import type { User } from '../../runtime/sections/accounts.js';

type FromSchema = TypeOf<typeof MANIFEST_SCHEMA>;

describe('type and schema agreement (compile time)', () => {
  it('the manifest type and the schema agree', () => {
    expectTypeOf<Mismatches<Manifest, FromSchema>>().toEqualTypeOf<never>();
  });

  it('names a key on one side only, at the top and inside a section', () => {
    expectTypeOf<
      Mismatches<Manifest, FromSchema & { extra?: string }>
    >().toEqualTypeOf<'$.extra: in the schema, not in the type'>();
    expectTypeOf<
      Mismatches<Manifest & { extra?: string }, FromSchema>
    >().toEqualTypeOf<'$.extra: in the type, not in the schema'>();
    type WithRemove = Omit<Manifest, 'build'> & { build?: BuildSection & { removeFiles?: string[] } };
    expectTypeOf<
      Mismatches<WithRemove, FromSchema>
    >().toEqualTypeOf<'$.build.removeFiles: in the type, not in the schema'>();
    type WithUid = Omit<Manifest, 'users'> & { users?: Array<User & { uid?: number }> };
    expectTypeOf<Mismatches<WithUid, FromSchema>>().toEqualTypeOf<'$.users[].uid: in the type, not in the schema'>();
  });

  it('names a difference in optionality or in type', () => {
    type NameOptional = Omit<Manifest, 'name'> & { name?: string };
    expectTypeOf<
      Mismatches<NameOptional, FromSchema>
    >().toEqualTypeOf<'$.name: optional in the type, required in the schema'>();
    type TimeoutText = Omit<Manifest, 'firstBootTimeoutMinutes'> & { firstBootTimeoutMinutes?: string };
    expectTypeOf<
      Mismatches<TimeoutText, FromSchema>
    >().toEqualTypeOf<"$.firstBootTimeoutMinutes: the type and the schema's differ">();
    type StopService = Omit<Manifest, 'services'> & {
      services?: Array<string | (Omit<Service, 'firstBoot'> & { firstBoot?: Service['firstBoot'] | 'stop' })>;
    };
    expectTypeOf<Mismatches<StopService, FromSchema>>().not.toEqualTypeOf<never>();
  });

  it('the builders carry the type of what they accept', () => {
    const node = obj(
      {
        a: str(),
        b: int(),
        c: strings(oneOf(['x', 'y'])),
        d: anyOf([obj({ e: str() }, { required: ['e'] }), nil()]),
      },
      { required: ['a'] },
    );
    expectTypeOf<TypeOf<typeof node>>().toEqualTypeOf<{
      a: string;
      b?: number;
      c?: Array<'x' | 'y'>;
      d?: { e: string } | null;
    }>();
    expect(node.required).toEqual(['a']);
    // a node written by hand has no type, so it cannot stand in for one
    // @ts-expect-error: { type: 'string' } is not a Typed node
    obj({ a: { type: 'string' } });
  });
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** tsc's errors on runtime/manifest.ts, with `file` (relative) read as `replace` makes it. */
function manifestErrors(file: string, replace: (text: string) => string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => {},
    },
  )!;
  const planted = join(ROOT, file);
  const host = ts.createCompilerHost(config.options);
  const read = host.readFile.bind(host);
  host.readFile = (name) => (name === planted ? replace(readFileSync(planted, 'utf8')) : read(name));
  const program = ts.createProgram({ rootNames: [join(ROOT, 'runtime/manifest.ts')], options: config.options, host });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file ? d.file.fileName.slice(ROOT.length) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

/** `text` with `from` replaced, failing when it is not there (the planted change must land). */
const plant = (from: string, to: string) => (text: string) => {
  expect(text).toContain(from);
  return text.replace(from, to);
};

describe('type and schema agreement (the compiler fails on a planted mismatch)', { timeout: 120_000 }, () => {
  it('compiles as it is', () => {
    expect(manifestErrors('runtime/sections/verify.ts', (t) => t)).toEqual([]);
  });

  it('a key added to a section schema but not to its type fails, naming $.verify.retries', () => {
    const errors = manifestErrors(
      'runtime/sections/verify.ts',
      plant('    commandTimeoutSeconds: int({', '    retries: int({ minimum: 0 }),\n    commandTimeoutSeconds: int({'),
    );
    expect(errors.join('\n')).toContain('runtime/manifest.ts: ');
    expect(errors.join('\n')).toContain('$.verify.retries: in the schema, not in the type');
  });

  it('a key added to a section type but not to its schema fails, naming $.verify.retries', () => {
    const errors = manifestErrors(
      'runtime/sections/verify.ts',
      plant('  commandTimeoutSeconds?: number;', '  commandTimeoutSeconds?: number;\n  retries?: number;'),
    );
    expect(errors.join('\n')).toContain('$.verify.retries: in the type, not in the schema');
  });

  it("a builder's extra cannot change the node's shape behind its type (type, properties, items, ...)", () => {
    const errors = manifestErrors(
      'runtime/sections/verify.ts',
      plant('    commandTimeoutSeconds: int({', "    commandTimeoutSeconds: int({ type: 'string',"),
    );
    expect(errors.join('\n')).toMatch(/runtime\/sections\/verify\.ts: .*'type' does not exist/);
  });
});

describe('one module per section', () => {
  it("every top-level key's rules are an export of a module of runtime/sections/ (none written in manifest-schema.ts)", async () => {
    const dir = join(ROOT, 'runtime/sections');
    const owners = new Map<unknown, string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const mod = (await import(join(dir, f))) as Record<string, unknown>;
      for (const [name, v] of Object.entries(mod)) {
        owners.set(v, `${f} ${name}`);
        // a group of keys (identity, first boot) exports its properties together
        if (name.endsWith('_PROPERTIES'))
          for (const [k, p] of Object.entries(v as Record<string, unknown>)) owners.set(p, `${f} ${name}.${k}`);
      }
    }
    const keys = Object.keys(MANIFEST_SCHEMA.properties!);
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((k) => !owners.has(MANIFEST_SCHEMA.properties![k]))).toEqual([]);
  });
});
