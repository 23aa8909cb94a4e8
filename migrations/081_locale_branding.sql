-- Recipients (issue 20): their language and the sender's brand.
--   contacts.locale          the person's BCP 47 locale (e.g. 'de-DE'); chosen first for their mail and pages.
--   tenants.default_locale   the tenant's fallback when neither the contact nor the browser says.
--   tenants.string_overrides per language, message id → the tenant's own ICU text (locales/ has the ids).
--   tenants.logo_url, accent_color, privacy_url   branding on every public page and built-in mail.
ALTER TABLE contacts ADD COLUMN locale text CHECK (locale IS NULL OR length(locale) BETWEEN 2 AND 35);
ALTER TABLE tenants ADD COLUMN default_locale text NOT NULL DEFAULT 'en' CHECK (length(default_locale) BETWEEN 2 AND 35);
ALTER TABLE tenants ADD COLUMN string_overrides jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(string_overrides) = 'object');
ALTER TABLE tenants ADD COLUMN logo_url text CHECK (logo_url IS NULL OR (logo_url LIKE 'https://%' AND length(logo_url) <= 500));
ALTER TABLE tenants ADD COLUMN accent_color text CHECK (accent_color IS NULL OR accent_color ~ '^#[0-9a-f]{6}$');
ALTER TABLE tenants ADD COLUMN privacy_url text CHECK (privacy_url IS NULL OR (privacy_url ~ '^https?://' AND length(privacy_url) <= 500));
