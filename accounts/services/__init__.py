"""Write-side functions for accounts: allocation, overrides, import and export (see each module)."""
