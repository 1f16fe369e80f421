# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r02-cosmetic"
VERSION = "1.0.1"
