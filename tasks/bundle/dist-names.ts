/** Names of what `mpimg bundle` writes into dist/ that the tasks look for (no rendering here: the tasks stay light). */

export const buildScriptName = (slug: string): string => `${slug}-build.sh`;
