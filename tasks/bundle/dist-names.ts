/** Names of what `mpimg bundle` writes into dist/ that the tasks look for (no rendering here: the tasks stay light). */

/** The catalog steps of dist/<slug>-build.sh, in the order a build runs them (SSH tasks and Packer). */
export const BUILD_SCRIPT_COMMANDS = ['repositories', 'users', 'owners', 'services', 'firewall'] as const;
export type BuildScriptCommand = (typeof BUILD_SCRIPT_COMMANDS)[number];

export const buildScriptName = (slug: string): string => `${slug}-build.sh`;
