// The image check's system checks, one fixture per outcome (table in check-cases.ts).
import { SYSTEM_IDS, registerCases } from './check-cases.js';

registerCases('system checks', SYSTEM_IDS);
