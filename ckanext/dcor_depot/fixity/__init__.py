"""Rolling fixity: both copies of every resource (depot file and object)
read again within a window, a bad copy repaired from its verified twin, a
resource without any good copy marked (`rules` pure, `store` its tables;
the bytes are handled in workflows/fixity.py)."""
