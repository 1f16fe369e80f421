# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r05-silent-balance"
VERSION = "1.1.1"
