export * from './errors';
export * from './jwtVerifier';
export { JwksCache, type JwksFetcher } from './jwks';
export { SUPPORTED_ALGORITHMS, type JwtAlgorithm } from './jwtAlgorithms';
export * from './smartScopes';
export * from './authenticator';
