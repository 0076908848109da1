-- E-licences' metadata as GB/T 36901–36904 describe it, beyond type, number, holder, issuer and
-- dates: the identifier (证照标识, GB/T 36904; '' when neither the issuer gave one nor the hub
-- could build it), the type's own face items (照面信息, a JSON object of names to values) and
-- the issuer's seal on the file (签章: its name, the signature algorithm and the signing
-- certificate's serial, each '' when not given). Licences recorded before keep ''/'{}'.

-- +goose Up
ALTER TABLE licences ADD COLUMN identifier TEXT NOT NULL DEFAULT '';
ALTER TABLE licences ADD COLUMN items TEXT NOT NULL DEFAULT '{}';
ALTER TABLE licences ADD COLUMN seal_name TEXT NOT NULL DEFAULT '';
ALTER TABLE licences ADD COLUMN seal_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE licences ADD COLUMN seal_certificate_serial TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE licences DROP COLUMN seal_certificate_serial;
ALTER TABLE licences DROP COLUMN seal_name;
ALTER TABLE licences DROP COLUMN seal_algorithm;
ALTER TABLE licences DROP COLUMN items;
ALTER TABLE licences DROP COLUMN identifier;
