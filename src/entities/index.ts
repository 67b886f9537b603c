import { AccessToken } from './AccessToken.js';
import { Application } from './Application.js';
import { AuditEvent } from './AuditEvent.js';
import { AuthorizationCode } from './AuthorizationCode.js';
import { BackchannelLogout } from './BackchannelLogout.js';
import { DeviceCode } from './DeviceCode.js';
import { Grant } from './Grant.js';
import { InitialAccessToken } from './InitialAccessToken.js';
import { PushedAuthorizationRequest } from './PushedAuthorizationRequest.js';
import { RateLimitCounter } from './RateLimitCounter.js';
import { RecoveryCode } from './RecoveryCode.js';
import { RefreshToken } from './RefreshToken.js';
import { Resource } from './Resource.js';
import { ServerSecret } from './ServerSecret.js';
import { Session } from './Session.js';
import { SessionApplication } from './SessionApplication.js';
import { SigningKey } from './SigningKey.js';
import { UsedJti } from './UsedJti.js';
import { User } from './User.js';
import { UserFactor } from './UserFactor.js';
import { WebauthnChallenge } from './WebauthnChallenge.js';

export type * from './Application.js';
export {
  AccessToken,
  Application,
  AuditEvent,
  AuthorizationCode,
  BackchannelLogout,
  DeviceCode,
  Grant,
  InitialAccessToken,
  PushedAuthorizationRequest,
  RateLimitCounter,
  RecoveryCode,
  RefreshToken,
  Resource,
  ServerSecret,
  Session,
  SessionApplication,
  SigningKey,
  UsedJti,
  User,
  UserFactor,
  WebauthnChallenge,
};

export const entities = [
  User,
  Application,
  Grant,
  AuthorizationCode,
  AccessToken,
  RefreshToken,
  DeviceCode,
  SigningKey,
  Session,
  AuditEvent,
  RateLimitCounter,
  ServerSecret,
  InitialAccessToken,
  Resource,
  UsedJti,
  PushedAuthorizationRequest,
  UserFactor,
  RecoveryCode,
  WebauthnChallenge,
  SessionApplication,
  BackchannelLogout,
];
