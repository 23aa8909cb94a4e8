// mailboxKey (PURE): the mailbox an address reaches, which the activation cap counts.
import { describe, expect, it } from 'vitest';
import { mailboxKey } from '../../src/policy/addresses.js';

describe('mailboxKey', () => {
  it('lower-cases and cuts a +tag for every domain', () => {
    expect(mailboxKey('Victim+1@Example.org')).toBe('victim@example.org');
    expect(mailboxKey('victim+a+b@example.org')).toBe('victim@example.org');
    expect(mailboxKey('first.last+news@example.org')).toBe('first.last@example.org'); // dots count outside gmail
  });

  it('removes dots for gmail.com and googlemail.com, which are one provider', () => {
    expect(mailboxKey('V.I.C.T.I.M@gmail.com')).toBe('victim@gmail.com');
    expect(mailboxKey('vic.tim+x@googlemail.com')).toBe('victim@gmail.com');
    expect(mailboxKey('victim@mail.gmail.com')).toBe('victim@mail.gmail.com');
  });

  it('keeps a local part that starts with +, and an address without @', () => {
    expect(mailboxKey('+only@example.org')).toBe('+only@example.org');
    expect(mailboxKey(' Plain ')).toBe('plain');
  });
});
