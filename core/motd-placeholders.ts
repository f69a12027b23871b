/** Placeholders a MOTD may hold besides the variables: {{ip}} is filled in at login, the rest at bundle time. */
export const MOTD_PLACEHOLDERS = ['ip', 'name', 'version', 'credentials'];
