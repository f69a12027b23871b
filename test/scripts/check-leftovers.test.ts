// The image check's leftover checks, one fixture per outcome (table in check-cases.ts).
import { LEFTOVER_IDS, registerCases } from './check-cases.js';

registerCases('leftover checks', LEFTOVER_IDS);
