# Concern: membership of the local Administrators group.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpGroupEntry($Entry) { return (@(Get-BpGroupMembers $Entry.group) -contains $Entry.sid) }

function Set-BpGroupEntry($Entry, $Value) {
    if ($Value) { Add-BpGroupMember $Entry.group $Entry.sid } else { Remove-BpGroupMember $Entry.group $Entry.sid }
}
