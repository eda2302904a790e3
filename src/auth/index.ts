export * from './errors';
export * from './jwtVerifier';
export * from './smartScopes';
export * from './authenticator';
