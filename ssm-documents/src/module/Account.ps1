# Concern: the account (its names for the service manager and the task scheduler; a local account is created when asked).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

# The logon names of the account as the service manager and the task scheduler want them.
function Get-BpAccountNames($State, $Resolved) {
    $account = $State.account
    if ($account.kind -eq 'local') {
        $short = ($account.name -split '\\')[-1]
        return [ordered]@{ ntName = (Get-BpComputerName) + '\' + $short; serviceName = '.\' + $short; short = $short }
    }
    $ntName = $account.name
    if ($null -ne $Resolved -and $Resolved.name) { $ntName = $Resolved.name }
    return [ordered]@{ ntName = $ntName; serviceName = $ntName; short = ($ntName -split '\\')[-1] }
}

# A local account is looked up as COMPUTER\name, so a domain account of the same name is never taken for it.
function Get-BpAccountLookupName($State) {
    if ($State.account.kind -eq 'local') { return (Get-BpComputerName) + '\' + ($State.account.name -split '\\')[-1] }
    return $State.account.name
}

function Test-BpSameAccount([string]$Left, [string]$Right) {
    if (-not $Left -or -not $Right) { return ($Left -eq $Right) }
    if ($Left -eq $Right) { return $true }
    $a = Resolve-BpAccount $Left
    $b = Resolve-BpAccount $Right
    return ($null -ne $a -and $null -ne $b -and $a.sid -eq $b.sid)
}

function Get-BpAccountEntry($Entry) {
    $account = Resolve-BpAccount ((Get-BpComputerName) + '\' + $Entry.name)
    return ($null -ne $account)
}

function Set-BpAccountEntry($Entry, $Value, [bool]$Restore) {
    if ($Value) {
        if ($null -eq $script:BpPassword) { throw (New-BpError 'ACCOUNT_NOT_CREATED' ('cannot create ' + $Entry.name + ' without its password')) }
        New-BpLocalAccount $Entry.name $script:BpPassword
    } else {
        $account = Resolve-BpAccount ((Get-BpComputerName) + '\' + $Entry.name)
        if ($null -ne $account) { Remove-BpLocalAccount $account.sid }
    }
}
