// SPDX-License-Identifier: Apache-2.0
// Usage: node entra_get_token.mjs '<json config>'  (see entra_credential.mjs; plus "scope")
// Prints {"ok":true,"token":...,"expiresOnTimestamp":...} or the error's name and message.
import { describeError, makeCredential, report } from "./entra_credential.mjs";

const cfg = JSON.parse(process.argv[2]);
try {
  const token = await makeCredential(cfg).getToken(cfg.scope);
  report({ ok: true, token: token.token, expiresOnTimestamp: token.expiresOnTimestamp });
} catch (e) {
  report(describeError(e));
}
