/** The smallest valid mpimg.json: what validate-time tests of one section add their key to. */
export const MINIMAL_MANIFEST = {
  name: 'Acme Wiki',
  slug: 'acme-wiki',
  vendor: 'acme',
  version: '1.0.0',
  distributions: ['debian-12-x64'],
};
