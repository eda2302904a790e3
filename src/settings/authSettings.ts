/** Settings of the API's caller authentication, read by `readAuthConfig` (src/auth/authenticator.ts). */
import { choice, integer, list, url } from './setting';

const WITH_JWT = { AUTH_MODE: ['jwt'] };

export const AUTH = {
  mode: choice({
    name: 'AUTH_MODE',
    values: ['jwt', 'none'],
    default: 'jwt',
    meaning:
      '`jwt` requires a valid bearer token on every call; `none` makes every caller one anonymous identity, for development only (`npm start` defaults to it).',
  }),
  issuer: list({
    name: 'AUTH_ISSUER',
    required: true,
    when: WITH_JWT,
    meaning:
      'Accepted `iss` values, matched exactly, e.g. `https://sts.windows.net/{tenant}/,https://login.microsoftonline.com/{tenant}/v2.0` for Entra ID v1 and v2 tokens.',
  }),
  audience: list({
    name: 'AUTH_AUDIENCE',
    required: true,
    when: WITH_JWT,
    meaning: "Accepted `aud` values, e.g. `api://fhir-export` or the app registration's client id.",
  }),
  jwksUri: url({
    name: 'AUTH_JWKS_URI',
    required: true,
    when: WITH_JWT,
    meaning:
      'The signing keys, e.g. `https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys`; `https` only (plain `http` for loopback hosts).',
  }),
  clockSkewSeconds: integer({
    name: 'AUTH_CLOCK_SKEW_SECONDS',
    default: 60,
    min: 0,
    max: 600,
    when: WITH_JWT,
    meaning: 'Tolerance for the token times `exp`, `nbf` and `iat`.',
  }),
};
