# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r09-requirements"
VERSION = "1.2.0"
