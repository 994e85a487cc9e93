"""Write-side actions of the collaboration app, one module per concept."""
