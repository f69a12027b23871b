/**
 * A POSIX single-quoted shell word. Its own dependency-free module: the build steps' units quote
 * their build.sh data with it, and a project's mpimgfile.mjs is bundled with them (no ejs there).
 */
export const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
