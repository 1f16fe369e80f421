// The rule changed the way Steward changes rules: the re-check runs only in runs that started on the new code; a
// run recorded before the change replays as it ran.
import { patched } from '@temporalio/workflow';
import { ruleChangeWith } from './api';

export const ruleChange = ruleChangeWith(() => patched('recheck-window-after-approval'));
