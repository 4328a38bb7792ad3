"""Stand-in base classes (see __init__)."""


class Py7zIO:
    pass


class WriterFactory:
    pass
