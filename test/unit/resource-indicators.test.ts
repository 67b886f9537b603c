import { describe, expect, it } from 'vitest';
import { parseParams } from '../../src/oauth/params.js';
import {
  resourceParams,
  resourceUriProblem,
  tokenResourceParam,
} from '../../src/oauth/resource-indicators.js';
import { oauthErrorOf } from './fixtures.js';

describe('RFC 8707 §2: resource indicator syntax', () => {
  it('RFC 8707 §2: absolute URIs without a fragment are resource indicators (https, http, urn)', () => {
    for (const ok of [
      'https://mcp.example.com/mcp',
      'http://127.0.0.1:3000/',
      'urn:example:api',
      'https://a.example/?q=1',
    ]) {
      expect(resourceUriProblem(ok), ok).toBeNull();
    }
  });

  it('RFC 8707 §2: relative references, fragments, spaces, controls and oversized values are not', () => {
    for (const bad of [
      '/path',
      'example.com/x',
      '//host/x',
      'https://a.example/#f',
      'https://a b/',
      'https://a.example/\t',
      '',
      `https://a.example/${'x'.repeat(2100)}`,
    ]) {
      expect(resourceUriProblem(bad), JSON.stringify(bad)).not.toBeNull();
    }
  });

  it('RFC 8707 §2: resource may repeat at the authorization endpoint (duplicates collapse); the token endpoint takes one', () => {
    const params = parseParams(
      'resource=https%3A%2F%2Fa.example%2F&resource=https%3A%2F%2Fb.example%2F&resource=https%3A%2F%2Fa.example%2F',
    );
    expect(resourceParams(params)).toEqual(['https://a.example/', 'https://b.example/']);
    expect(oauthErrorOf(() => tokenResourceParam(params)).error).toBe('invalid_target');
    expect(oauthErrorOf(() => parseParams('scope=a&scope=b')).error).toBe('invalid_request');
    const many = Array.from({ length: 11 }, (_, i) => `resource=https%3A%2F%2Fr${i}.example%2F`).join('&');
    expect(oauthErrorOf(() => resourceParams(parseParams(many))).error).toBe('invalid_target');
  });
});
