# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r03-additive-migration"
VERSION = "1.1.0"
