import { describe, expect, it } from 'vitest';
import { attr, HclReadError, readHcl } from '../../tasks/import/hcl.js';
import { readTemplate, TemplateReadError } from '../../tasks/import/template.js';

describe('the HCL2 reader (Packer templates; nothing evaluated)', () => {
  it('reads blocks with labels, attributes, lists, maps, heredocs and keeps ${...} and functions as text', () => {
    const body = readHcl(`# comment
variable "version" {
  type    = string
  default = "\${env("APP_VERSION")}"
}
/* block
comment */
source "digitalocean" "base" {
  size  = "s-1vcpu-1gb" // trailing
  tags  = ["a", "b",]
  count = 2
  agent = false
  map   = { a = 1, "b" = "x" }
  name  = "app-\${var.version}-$\${literal}"
  fn    = formatdate("YYYY", timestamp())
  text  = <<-EOT
    line \${var.version}
      indented
    EOT
}
`);
    expect(body.blocks.map((b) => [b.type, b.labels])).toEqual([
      ['variable', ['version']],
      ['source', ['digitalocean', 'base']],
    ]);
    const src = body.blocks[1].body;
    expect(attr(src, 'size')).toMatchObject({ kind: 'string', parts: [{ lit: 's-1vcpu-1gb' }] });
    expect(attr(src, 'tags')).toMatchObject({
      kind: 'list',
      items: [{ parts: [{ lit: 'a' }] }, { parts: [{ lit: 'b' }] }],
    });
    expect(attr(src, 'count')).toMatchObject({ kind: 'number', value: 2 });
    expect(attr(src, 'agent')).toMatchObject({ kind: 'bool', value: false });
    expect(attr(src, 'map')).toMatchObject({
      kind: 'object',
      entries: [
        ['a', { kind: 'number', value: 1 }],
        ['b', { kind: 'string' }],
      ],
    });
    expect(attr(src, 'name')).toMatchObject({
      parts: [{ lit: 'app-' }, { interp: 'var.version' }, { lit: '-${literal}' }],
    });
    expect(attr(src, 'fn')).toMatchObject({ kind: 'expr', text: 'formatdate("YYYY", timestamp())' });
    expect(attr(src, 'text')).toMatchObject({
      parts: [{ lit: 'line ' }, { interp: 'var.version' }, { lit: '\n  indented\n' }],
    });
  });

  it('says where it stops', () => {
    expect(() => readHcl('source "x" "y" {\n  a = "open\n}\n')).toThrow(HclReadError);
    try {
      readHcl('a = 1\nb = [1, 2\n');
    } catch (e) {
      expect((e as HclReadError).line).toBe(3);
    }
  });
});

describe('templates as one model', () => {
  it('JSON: {{user `x`}}, {{env `X`}}, {{timestamp}} and the rest as text; sensitive variables', () => {
    const t = readTemplate([
      {
        file: 'template.json',
        text: JSON.stringify({
          variables: { token: '{{env `DIGITALOCEAN_TOKEN`}}', name: 'app-{{timestamp}}', v: '1.2' },
          'sensitive-variables': ['token'],
          builders: [{ type: 'digitalocean', image: 'ubuntu-24-04-x64', snapshot_name: '{{user `name`}}-{{ uuid }}' }],
          provisioners: [{ type: 'shell', inline: ['echo {{user "v"}}'] }],
        }),
      },
    ]);
    expect(t.variables.get('token')).toEqual({
      name: 'token',
      default: [{ env: 'DIGITALOCEAN_TOKEN' }],
      sensitive: true,
    });
    expect(t.variables.get('name')!.default).toEqual([{ lit: 'app-' }, { timestamp: true }]);
    expect(t.builders[0].fields.snapshot_name).toEqual({
      text: [{ var: 'name' }, { lit: '-' }, { other: '{{ uuid }}' }],
    });
    expect(t.provisioners[0].fields.inline).toEqual({ list: [{ text: [{ lit: 'echo ' }, { var: 'v' }] }] });
  });

  it('HCL: every *.pkr.hcl of a folder together; sources, build provisioners, locals, env() and timestamp()', () => {
    const t = readTemplate([
      {
        file: 'variables.pkr.hcl',
        text: 'variable "v" {\n  default = "${env("V")}"\n  sensitive = true\n}\nlocals {\n  stamp = "x-${timestamp()}"\n}\n',
      },
      {
        file: 'main.pkr.hcl',
        text: 'source "digitalocean" "s" {\n  image = "debian-12-x64"\n  snapshot_name = "${local.stamp}-${var.v}"\n}\nbuild {\n  sources = ["source.digitalocean.s"]\n  provisioner "shell" {\n    inline = ["echo ${var.v}"]\n  }\n  post-processor "manifest" {}\n}\n',
      },
    ]);
    expect(t.format).toBe('hcl');
    expect(t.variables.get('v')).toEqual({ name: 'v', default: [{ env: 'V' }], sensitive: true });
    expect(t.builders[0]).toMatchObject({ type: 'digitalocean', name: 's', at: 'main.pkr.hcl:1' });
    expect(t.builders[0].fields.snapshot_name).toEqual({
      text: [{ lit: 'x-' }, { timestamp: true }, { lit: '-' }, { var: 'v' }],
    });
    expect(t.provisioners).toHaveLength(1);
    expect(t.provisioners[0].at).toBe('main.pkr.hcl:7');
    expect(t.ignored).toEqual(['post-processor block (main.pkr.hcl:10)']);
  });

  it('refuses what is not a template, naming the file and line', () => {
    expect(() => readTemplate([{ file: 't.json', text: '{"builders": [\n1,\n' }])).toThrow(TemplateReadError);
    try {
      readTemplate([{ file: 'x.pkr.hcl', text: 'build {\n  provisioner "shell" {\n' }]);
    } catch (e) {
      expect((e as TemplateReadError).where).toMatch(/^x\.pkr\.hcl:\d+$/);
    }
  });
});
