"""Stand-in exceptions (see __init__)."""


class ArchiveError(Exception):
    pass


class PasswordRequired(ArchiveError):
    pass
