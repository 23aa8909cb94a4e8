// What a tenant may store as its own strings (pure): language, id, ICU syntax, arguments, tags, sizes.
import { describe, expect, it } from 'vitest';
import { checkOverrides, MAX_OVERRIDES, messageArguments, overrideProblem, overrideProblems } from '../../src/policy/string-overrides.js';

const english = {
  'x.count': 'You have {n, plural, one {# list} other {# lists}} at {tenant}',
  'x.rich': 'Read <b>{what}</b> now',
  'x.plain': 'Nothing here',
};

describe('messageArguments', () => {
  it('lists the arguments of plain, plural, select and nested messages, sorted, without tags', () => {
    expect(messageArguments(english['x.count'])).toEqual(['n', 'tenant']);
    expect(messageArguments(english['x.rich'])).toEqual(['what']);
    expect(messageArguments('{a, select, x {{b}} other {{c, number}}} {d, date, short}')).toEqual(['a', 'b', 'c', 'd']);
    expect(messageArguments(english['x.plain'])).toEqual([]);
  });
});

describe('overrideProblem', () => {
  it('accepts a plural and a select that use only the English arguments, in another language', () => {
    expect(overrideProblem('{n, plural, one {# Liste} other {# Listen}} bei {tenant}', english['x.count'], 'de')).toBeNull();
    expect(overrideProblem('{tenant}', english['x.count'], 'de')).toBeNull();
    expect(overrideProblem('<b>{what}</b> lesen', english['x.rich'], 'de')).toBeNull();
  });

  it('names what is wrong', () => {
    expect(overrideProblem('{who, select, a {A} other {B}}', english['x.count'], 'de')).toMatch(/\{who\}, which the message does not have \(it has: \{n\}, \{tenant\}\)/);
    expect(overrideProblem('<i>x</i>', english['x.plain'], 'fr')).toMatch(/tag <i>/);
    expect(overrideProblem('{n, plural, one {x}}', english['x.count'], 'fr')).toMatch(/not valid ICU MessageFormat/); // no "other"
    expect(overrideProblem('{tenant', english['x.count'], 'es')).toMatch(/not valid ICU MessageFormat/);
    expect(overrideProblem('x'.repeat(4001), english['x.plain'], 'es')).toMatch(/4000/);
  });
});

describe('overrideProblems', () => {
  it('paths a problem by language and id, and an unknown language by itself', () => {
    expect(overrideProblems({ de: { 'x.plain': 'Hier ist nichts', 'x.nope': 'x' }, xx: { 'x.plain': 'x' } }, english)).toEqual([
      { path: ['de', 'x.nope'], message: expect.stringContaining('no such message id') },
      { path: ['xx'], message: expect.stringContaining('not a language') },
    ]);
  });

  it(`counts overrides in all languages together (at most ${MAX_OVERRIDES}) before reading any`, () => {
    const many = Object.fromEntries(['en', 'de'].map((l) => [l, Object.fromEntries(Array.from({ length: 251 }, (_, i) => [`x.${i}`, 'x']))]));
    expect(overrideProblems(many, english)).toEqual([{ path: [], message: expect.stringContaining('502 overrides') }]);
  });

  it('stops at the limit, and checkOverrides yields once per entry', () => {
    const bad = { de: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x.${i}`, 'x'])) };
    expect(overrideProblems(bad, english)).toHaveLength(20);
    expect([...checkOverrides({ de: { 'x.plain': 'a', 'x.rich': '{what}' } }, english)]).toEqual([null, null]);
  });
});
