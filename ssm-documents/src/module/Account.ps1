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

# Accounts that log on without a stored password: LocalSystem, LocalService, NetworkService, virtual
# service accounts (NT SERVICE\...) and gMSAs (Windows manages their password).
function Test-BpPasswordlessAccount([string]$Name) {
    if (-not $Name) { return $true }
    if ($Name.EndsWith('$')) { return $true }
    $account = Resolve-BpAccount $Name
    if ($null -eq $account) { return (@('LocalSystem', 'SYSTEM', 'NT AUTHORITY\SYSTEM', 'NT AUTHORITY\LocalService', 'NT AUTHORITY\NetworkService') -contains $Name) }
    return ($account.sid -match '^S-1-5-(18|19|20)$' -or $account.sid -match '^S-1-5-80-')
}

# Before anything changes: the service and the tasks may run as another account that has a password.
# Rollback would have to give them back that account, and the capture holds no password: the request must
# name that account's secret, else the run is refused. Returns the previous account's name or $null.
function Resolve-BpPreviousAccount($State, $Plan) {
    $others = New-Object System.Collections.ArrayList
    $logons = @($Plan.service.startName)
    foreach ($task in @($Plan.tasks.found)) { if ($task.logonType -eq 'Password') { $logons += $task.userId } }
    $requested = Get-BpAccountLookupName $State
    foreach ($logon in $logons) {
        if (Test-BpPasswordlessAccount $logon) { continue }
        if (Test-BpSameAccount $logon $requested) { continue }
        $known = $false
        foreach ($other in $others) { if (Test-BpSameAccount $logon $other) { $known = $true } }
        if (-not $known) { [void]$others.Add($logon) }
    }
    if ($others.Count -eq 0) { return $null }
    $previous = $State.previousAccount
    if ($others.Count -eq 1 -and $null -ne $previous -and (Test-BpSameAccount $others[0] $previous.name)) { return $previous.name }
    throw (New-BpError 'PREVIOUS_ACCOUNT_SECRET_REQUIRED' ('the service or tasks run as ' + ($others -join ', ') + ', an account with a password that a rollback could not restore; name its secret in the request (previousAccount) or move the beacon to LocalSystem first'))
}

# The previous account's password for a restore (fetched by the run that needs it), or $null.
function Get-BpPreviousPassword([string]$Account) {
    if (-not $Account -or -not $script:BpPreviousAccount -or $null -eq $script:BpPreviousPassword) { return $null }
    if (Test-BpSameAccount $Account $script:BpPreviousAccount) { return $script:BpPreviousPassword }
    return $null
}

# An account for people, as DOMAIN\name (LocalSystem is NT AUTHORITY\SYSTEM; .\name is COMPUTER\name).
function Format-BpAccountName([string]$Name) {
    if (-not $Name) { return 'none' }
    $account = Resolve-BpAccount $Name
    if ($null -ne $account -and $account.name) { return [string]$account.name }
    if ($Name -match '^\.\\(.+)$') { return (Get-BpComputerName) + '\' + $Matches[1] }
    return $Name
}
