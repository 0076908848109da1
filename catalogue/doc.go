// Package catalogue loads and checks the catalogue of 一件事一次办: the departments, the
// canonical field dictionary (数据元), the material catalogue, the matter definitions with their
// department form mappings, and the bundles (一件事) of the seed plan.
//
// The catalogue is data (YAML under seeds/). Load decodes every file strictly, checks it against
// the JSON Schemas under schemas/catalogue, checks every cross-reference, compiles every mapping
// expression once, and either returns a complete Catalogue or a Problems error that lists every
// problem found, each with its file, path and line — never a partly loaded catalogue.
package catalogue
