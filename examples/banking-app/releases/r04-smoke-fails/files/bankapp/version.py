# The release this tree belongs to; each release overlay replaces this file.
RELEASE = "r04-smoke-fails"
VERSION = "1.1.1"
