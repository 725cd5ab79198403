# Concern: user rights of the account (LSA).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpRightEntry($Entry) { return (@(Get-BpAccountRights $Entry.sid) -contains $Entry.right) }

function Set-BpRightEntry($Entry, $Value) {
    if ($Value) { Add-BpAccountRight $Entry.sid $Entry.right } else { Remove-BpAccountRight $Entry.sid $Entry.right }
}
