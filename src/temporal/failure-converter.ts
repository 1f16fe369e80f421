// Loaded by path (the worker bundles it into the workflow sandbox; clients require it): failure messages and stack
// traces go into the encoded attributes, so the payload codec seals them like every other payload. Without this a
// host's error text would sit in clear in the history even with the codec on.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
