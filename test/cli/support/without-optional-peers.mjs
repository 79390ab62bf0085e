// `node --import ./without-optional-peers.mjs`: the optional peer packages of package.json
// cannot be resolved, as after a plain `npm install voice-admission`.
import { register } from 'node:module';

register('./without-optional-peers-hooks.mjs', import.meta.url);
