# Fake Windows layer for tests and the local twin: the same functions as WindowsLayer.ps1, backed by a
# JSON model of a beacon (local/beacon-model.ts describes it). Changes are written back to the model file
# when the document finishes, so a test reads the end state. Never shipped in a document.
# Faults (model.faults): serviceFailsToStart, taskMissing, taskUpdateFails, accessDeniedOnKey, ignoreWrite,
# secretNotFound, lsaAccessDenied, hiveUnloadBusy (count), profileCreateFails, groupAccessDenied,
# servicePendingForever ('stop' | 'start'), holdLockMs (the run holds the document lock that long).
# Windows behaviour it reproduces without any fault: see ssm-documents/README.md (the fake layer).

$script:BpFakePath = $env:BEACON_PROXY_FAKE_MODEL
if (-not $script:BpFakePath -or -not (Test-Path -LiteralPath $script:BpFakePath)) {
    throw ('BEACON_PROXY_FAKE_MODEL must name an existing beacon model file (got: ' + [string]$script:BpFakePath + ')')
}
$script:BpFake = ConvertFrom-BpJson ([System.IO.File]::ReadAllText($script:BpFakePath))

# Windows PowerShell 5.1 parses JSON with JavaScriptSerializer, whose error message quotes the input text.
# The beacon runs 5.1, so the fake does the same: a parse error carries the whole input.
function ConvertFrom-Json {
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipeline = $true)][AllowEmptyString()][string]$InputObject)
    try { return (Microsoft.PowerShell.Utility\ConvertFrom-Json -InputObject $InputObject) }
    catch { throw (New-Object System.ArgumentException(('Invalid object passed in, '':'' or ''}'' expected. (' + $InputObject.Length + '): ' + $InputObject))) }
}

# Time passes only when the document waits (Wait-BpInterval): pending service states and a profile hive
# that Windows unloads after its service stopped move on one step per wait.
$script:BpFakePending = @{}
$script:BpFakeHiveLag = @{}

# Changes are marked here and written by Complete-BpLayer, which the document calls when it finishes
# (also after a failure); one write per run keeps the tests fast.
$script:BpFakeDirty = $false

function Save-BpFakeModel { $script:BpFakeDirty = $true }

# Under the document lock: the model is read again (another process may have changed it) and the run is
# traced (enter/leave with timestamps) so a test can check that documents never overlap on one beacon.
function Open-BpLayer {
    $script:BpFake = ConvertFrom-BpJson ([System.IO.File]::ReadAllText($script:BpFakePath))
    Initialize-BpFakeRunningAs
    Add-BpFakeTrace 'enter'
    $hold = Get-BpFakeFault 'holdLockMs'
    if ($hold) { Start-Sleep -Milliseconds ([int]$hold) }
}

function Add-BpFakeTrace([string]$Event) {
    $line = $Event + ' ' + [System.Diagnostics.Process]::GetCurrentProcess().Id + ' ' + [DateTime]::UtcNow.Ticks + [Environment]::NewLine
    [System.IO.File]::AppendAllText($script:BpFakePath + '.trace', $line)
}

function Complete-BpLayer {
    # The run is over: time passes, Windows finishes unloading hives of stopped services.
    foreach ($sid in @($script:BpFakeHiveLag.Keys)) { $script:BpFakeHiveLag[$sid] = 1 }
    Wait-BpInterval 0
    if ($script:BpFakeDirty) {
        [System.IO.File]::WriteAllText($script:BpFakePath, (ConvertTo-Json -InputObject $script:BpFake -Depth 30), (New-Object System.Text.UTF8Encoding($false)))
        $script:BpFakeDirty = $false
    }
    Add-BpFakeTrace 'leave'
}

# One mutex per modelled beacon (tests run many beacons on one machine); the wait can be shortened by tests.
function Get-BpDocumentLock($Contract) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { $digest = ([System.BitConverter]::ToString($sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes([System.IO.Path]::GetFullPath($script:BpFakePath)))) -replace '-', '').Substring(0, 16) } finally { $sha.Dispose() }
    $wait = [int]$Contract.waitSeconds
    if ($env:BEACON_PROXY_LOCK_WAIT_SECONDS) { $wait = [int]$env:BEACON_PROXY_LOCK_WAIT_SECONDS }
    return [ordered]@{ name = ([string]$Contract.name + '-' + $digest); waitSeconds = $wait }
}

# The hosts file of the modelled network: BEACON_PROXY_HOSTS maps a proxy host:port of a desired state to
# the local proxy that stands for it (the twin's fleet); anything else is used as it is.
function Get-BpProxyEndpoint([string]$HostPort) {
    if ($env:BEACON_PROXY_HOSTS) {
        $hosts = ConvertFrom-BpJson $env:BEACON_PROXY_HOSTS
        if ($hosts.Contains($HostPort)) { return [string]$hosts[$HostPort] }
    }
    return $HostPort
}

function Add-BpFakeJournal([string]$Line) {
    $script:BpFake.journal = @($script:BpFake.journal) + @($Line)
}

function Get-BpFakeFault([string]$Name) {
    $faults = $script:BpFake.faults
    if ($null -eq $faults -or -not $faults.Contains($Name)) { return $null }
    return $faults[$Name]
}

function Test-BpFakePathMatch([string]$Path, $Pattern) {
    if (-not $Pattern) { return $false }
    $tail = ([string]$Pattern).Trim('\')
    return ($Path -eq $tail -or $Path.EndsWith('\' + $tail, [System.StringComparison]::OrdinalIgnoreCase))
}

function Get-BpComputerName { return [string]$script:BpFake.computerName }

# ---------------------------------------------------------------- registry (HKLM tree, HKU\<SID> hives)

# The dictionary that holds the key and the key's name in it; $null when the key's hive is not loaded.
function Get-BpFakeStore([string]$Path) {
    if ($Path -match '^HKU\\([^\\]+)(\\(.*))?$') {
        $sid = $Matches[1]
        $relative = ''
        if ($Matches[3]) { $relative = $Matches[3] }
        $hives = $script:BpFake.hives
        if (-not $hives.Contains($sid) -or -not $hives[$sid].loaded) { return $null }
        return [ordered]@{ keys = $hives[$sid].keys; name = $relative }
    }
    if ($Path -match '^HKLM\\') { return [ordered]@{ keys = $script:BpFake.registry; name = $Path } }
    throw ('the fake layer knows HKLM and HKU only, not ' + $Path)
}

function Test-BpRegistryKey([string]$Path) {
    $store = Get-BpFakeStore $Path
    if ($null -eq $store) { return $false }
    if ($store.name -eq '' -or $store.keys.Contains($store.name)) { return $true }
    foreach ($key in @($store.keys.Keys)) { if ($key.StartsWith($store.name + '\', [System.StringComparison]::OrdinalIgnoreCase)) { return $true } }
    return $false
}

function Get-BpRegistryValue([string]$Path, [string]$Name) {
    $store = Get-BpFakeStore $Path
    if ($null -eq $store -or -not $store.keys.Contains($store.name)) { return $null }
    $values = $store.keys[$store.name]
    if (-not $values.Contains($Name)) { return $null }
    $data = $values[$Name].data
    # RegistryKey.GetValue gives a DWORD as Int32: 0xFFFFFFFF reads back as -1.
    if ($values[$Name].type -eq 'DWord' -and [long]$data -gt [int]::MaxValue) { $data = [long]$data - 4294967296 }
    return [ordered]@{ type = $values[$Name].type; data = $data }
}

function Assert-BpFakeWritable([string]$Path) {
    if (Test-BpFakePathMatch $Path (Get-BpFakeFault 'accessDeniedOnKey')) {
        throw (New-Object System.UnauthorizedAccessException(('Access to the registry key ''' + $Path + ''' is denied.')))
    }
}

# RegistryKey.CreateSubKey creates every missing parent; each becomes a key of its own.
function New-BpFakeKey($Store) {
    $parts = $Store.name.Split('\')
    $first = 1
    if ($Store.name -match '^HKLM\\') { $first = 2 }
    for ($depth = $first; $depth -le $parts.Length; $depth++) {
        $name = ($parts[0..($depth - 1)] -join '\')
        if ($name -eq '') { continue }
        $exists = $Store.keys.Contains($name)
        if (-not $exists) { foreach ($key in @($Store.keys.Keys)) { if ($key.StartsWith($name + '\', [System.StringComparison]::OrdinalIgnoreCase)) { $exists = $true; break } } }
        if (-not $exists) { $Store.keys[$name] = [ordered]@{} }
    }
    if (-not $Store.keys.Contains($Store.name)) { $Store.keys[$Store.name] = [ordered]@{} }
}

function Set-BpRegistryValue([string]$Path, [string]$Name, [string]$Type, $Data) {
    Assert-BpFakeWritable $Path
    if (Test-BpFakePathMatch ($Path + '\' + $Name) (Get-BpFakeFault 'ignoreWrite')) { return }
    $store = Get-BpFakeStore $Path
    if ($null -eq $store) { throw ('the key ' + $Path + ' does not exist (hive not loaded)') }
    New-BpFakeKey $store
    # A DWORD is a signed 32-bit value to .NET: [int] of anything larger fails, as SetValue would.
    if ($Type -eq 'DWord') { $Data = [long][int]$Data }
    $store.keys[$store.name][$Name] = [ordered]@{ type = $Type; data = $Data }
    Save-BpFakeModel
}

function Remove-BpRegistryValue([string]$Path, [string]$Name) {
    $store = Get-BpFakeStore $Path
    if ($null -eq $store -or -not $store.keys.Contains($store.name)) { return }
    if (-not $store.keys[$store.name].Contains($Name)) { return }
    Assert-BpFakeWritable $Path
    $store.keys[$store.name].Remove($Name)
    Save-BpFakeModel
}

function Remove-BpRegistryKeyIfEmpty([string]$Path) {
    $store = Get-BpFakeStore $Path
    if ($null -eq $store -or -not $store.keys.Contains($store.name)) { return }
    if (@($store.keys[$store.name].Keys).Count -gt 0) { return }
    foreach ($key in @($store.keys.Keys)) { if ($key.StartsWith($store.name + '\', [System.StringComparison]::OrdinalIgnoreCase)) { return } }
    Assert-BpFakeWritable $Path
    $store.keys.Remove($store.name)
    Save-BpFakeModel
}

# ---------------------------------------------------------------- accounts

function Resolve-BpAccount([string]$Name) {
    $computer = Get-BpComputerName
    $wanted = $Name
    if ($wanted -match '^\.\\(.+)$') { $wanted = $computer + '\' + $Matches[1] }
    if (@('LocalSystem', 'SYSTEM', 'NT AUTHORITY\SYSTEM', 'S-1-5-18') -contains $wanted) { return [ordered]@{ sid = 'S-1-5-18'; name = 'NT AUTHORITY\SYSTEM' } }
    foreach ($account in @($script:BpFake.accounts)) {
        if ($account.sid -eq $wanted) { $wanted = $account.name; if ($account.kind -eq 'local') { $wanted = $computer + '\' + $account.name } }
    }
    foreach ($account in @($script:BpFake.accounts)) {
        $names = @($account.name)
        if ($account.Contains('aliases')) { $names += @($account.aliases) }
        $ntName = $account.name
        if ($account.kind -eq 'local') { $ntName = $computer + '\' + $account.name; $names += $ntName }
        if ($names -contains $wanted) { return [ordered]@{ sid = $account.sid; name = $ntName } }
    }
    return $null
}

function New-BpLocalAccount([string]$Name, [string]$Password) {
    if ($null -ne (Resolve-BpAccount $Name)) { throw ('The account ' + $Name + ' already exists.') }
    $number = 1001 + @($script:BpFake.accounts).Count
    $account = [ordered]@{ name = $Name; sid = ('S-1-5-21-1111111111-2222222222-3333333333-' + $number); kind = 'local'; aliases = @(); passwordSha256 = (Get-BpSha256Hex $Password) }
    $script:BpFake.accounts = @($script:BpFake.accounts) + @($account)
    Add-BpFakeJournal ('account created ' + $Name)
    Save-BpFakeModel
}

function Remove-BpLocalAccount([string]$Sid) {
    $script:BpFake.accounts = @($script:BpFake.accounts | Where-Object { $_.sid -ne $Sid })
    Add-BpFakeJournal ('account removed ' + $Sid)
    Save-BpFakeModel
}

function Get-BpFakeAccountBySid([string]$Sid) {
    foreach ($account in @($script:BpFake.accounts)) { if ($account.sid -eq $Sid) { return $account } }
    return $null
}

# ---------------------------------------------------------------- rights and groups

function Get-BpAccountRights([string]$Sid) {
    if (-not $script:BpFake.rights.Contains($Sid)) { return @() }
    return @($script:BpFake.rights[$Sid])
}

function Add-BpAccountRight([string]$Sid, [string]$Right) {
    if (Get-BpFakeFault 'lsaAccessDenied') { throw 'LsaAddAccountRights failed: Access is denied. (5)' }
    $current = @(Get-BpAccountRights $Sid)
    if ($current -notcontains $Right) { $script:BpFake.rights[$Sid] = $current + @($Right) }
    Save-BpFakeModel
}

function Remove-BpAccountRight([string]$Sid, [string]$Right) {
    $remaining = @(Get-BpAccountRights $Sid | Where-Object { $_ -ne $Right })
    if ($remaining.Count -eq 0) { $script:BpFake.rights.Remove($Sid) } else { $script:BpFake.rights[$Sid] = $remaining }
    Save-BpFakeModel
}

function Get-BpGroupMembers([string]$GroupSid) {
    if (-not $script:BpFake.groups.Contains($GroupSid)) { throw ('no local group ' + $GroupSid) }
    return @($script:BpFake.groups[$GroupSid].members)
}

function Add-BpGroupMember([string]$GroupSid, [string]$Sid) {
    if (Get-BpFakeFault 'groupAccessDenied') { throw 'Access is denied.' }
    $members = @(Get-BpGroupMembers $GroupSid)
    if ($members -notcontains $Sid) { $script:BpFake.groups[$GroupSid].members = $members + @($Sid) }
    Save-BpFakeModel
}

function Remove-BpGroupMember([string]$GroupSid, [string]$Sid) {
    $script:BpFake.groups[$GroupSid].members = @(Get-BpGroupMembers $GroupSid | Where-Object { $_ -ne $Sid })
    Save-BpFakeModel
}

# ---------------------------------------------------------------- profiles and hives

function Get-BpProfile([string]$Sid) {
    if (-not $script:BpFake.profiles.Contains($Sid)) { return $null }
    $loaded = $script:BpFake.hives.Contains($Sid) -and [bool]$script:BpFake.hives[$Sid].loaded
    return [ordered]@{ path = $script:BpFake.profiles[$Sid].path; loaded = $loaded }
}

function New-BpProfile([string]$Sid, [string]$Name) {
    if (Get-BpFakeFault 'profileCreateFails') { throw 'CreateProfile failed: 0x80070005' }
    if ($script:BpFake.profiles.Contains($Sid)) { throw 'CreateProfile failed: 0x800700B7 (the profile already exists)' }
    $short = ($Name -split '\\')[-1]
    $script:BpFake.profiles[$Sid] = [ordered]@{ path = ('C:\Users\' + $short) }
    $script:BpFake.hives[$Sid] = [ordered]@{ loaded = $false; keys = [ordered]@{} }
    Add-BpFakeJournal ('profile created ' + $Sid)
    Save-BpFakeModel
}

function Remove-BpProfile([string]$Sid) {
    if ($script:BpFake.hives.Contains($Sid) -and $script:BpFake.hives[$Sid].loaded) { throw 'DeleteProfile failed: 32 (the profile is in use: its hive is loaded)' }
    $script:BpFake.profiles.Remove($Sid)
    $script:BpFake.hives.Remove($Sid)
    Add-BpFakeJournal ('profile removed ' + $Sid)
    Save-BpFakeModel
}

function Mount-BpUserHive([string]$Sid, [string]$ProfilePath) {
    if (-not $script:BpFake.hives.Contains($Sid)) { throw ('ERROR: The system was unable to find the specified registry key or value (' + $ProfilePath + '\NTUSER.DAT).') }
    if ($script:BpFake.hives[$Sid].loaded) { throw 'ERROR: The process cannot access the file because it is being used by another process.' }
    $script:BpFake.hives[$Sid].loaded = $true
    Add-BpFakeJournal ('reg load HKU\' + $Sid)
    Save-BpFakeModel
}

function Dismount-BpUserHive([string]$Sid) {
    $busy = Get-BpFakeFault 'hiveUnloadBusy'
    if ($busy -and [int]$busy -gt 0) {
        $script:BpFake.faults.hiveUnloadBusy = [int]$busy - 1
        Add-BpFakeJournal ('reg unload HKU\' + $Sid + ' denied')
        Save-BpFakeModel
        throw 'ERROR: Access is denied.'
    }
    if ($script:BpFakeHiveLag.ContainsKey($Sid) -or (Test-BpFakeServiceHoldsHive $Sid)) { throw 'ERROR: Access is denied.' }
    $script:BpFake.hives[$Sid].loaded = $false
    Add-BpFakeJournal ('reg unload HKU\' + $Sid)
    Save-BpFakeModel
}

# A service running as an account keeps that account's profile hive loaded (the service control manager
# loads it at logon); after the service stops, the User Profile Service unloads it a little later.
# The SID each running service logged on as (what the service control manager loaded), by service name.
$script:BpFakeRunningAs = @{}

function Test-BpFakeServiceHoldsHive([string]$Sid) {
    foreach ($name in @($script:BpFakeRunningAs.Keys)) { if ($script:BpFakeRunningAs[$name] -eq $Sid) { return $true } }
    return $false
}

function Set-BpFakeServiceHive($Service, [bool]$Running) {
    if ($Running) {
        $account = Resolve-BpAccount $Service.startName
        if ($null -eq $account -or $account.sid -eq 'S-1-5-18') { return }
        $script:BpFakeRunningAs[$Service.name] = $account.sid
        if (-not $script:BpFake.hives.Contains($account.sid)) { return }
        $script:BpFakeHiveLag.Remove($account.sid)
        if (-not $script:BpFake.hives[$account.sid].loaded) {
            $script:BpFake.hives[$account.sid].loaded = $true
            Add-BpFakeJournal ('profile loaded by service ' + $Service.name)
        }
        return
    }
    if (-not $script:BpFakeRunningAs.ContainsKey($Service.name)) { return }
    $sid = $script:BpFakeRunningAs[$Service.name]
    $script:BpFakeRunningAs.Remove($Service.name)
    if ($script:BpFake.hives.Contains($sid) -and $script:BpFake.hives[$sid].loaded) { $script:BpFakeHiveLag[$sid] = 2 }
}

# ---------------------------------------------------------------- services

function Get-BpFakeService([string]$Name) {
    foreach ($service in @($script:BpFake.services)) { if ($service.name -eq $Name -or $service.displayName -eq $Name) { return $service } }
    return $null
}

function Get-BpService([string]$Name) {
    $service = Get-BpFakeService $Name
    if ($null -eq $service) { return $null }
    return [ordered]@{ name = $service.name; displayName = $service.displayName; startName = $service.startName; state = $service.state }
}

function Set-BpServiceLogon([string]$Name, [string]$StartName, $Password) {
    $service = Get-BpFakeService $Name
    $account = Resolve-BpAccount $StartName
    if ($null -eq $account) { throw ('Win32_Service.Change returned 22 (the account ' + $StartName + ' does not exist)') }
    $service.startName = $StartName
    if ($account.sid -eq 'S-1-5-18') { $service.passwordSha256 = $null }
    elseif ($null -ne $Password) {
        $service.passwordSha256 = $null
        if ($Password -ne '') { $service.passwordSha256 = Get-BpSha256Hex $Password }
    }
    Add-BpFakeJournal ('service logon ' + $Name + ' = ' + $StartName)
    Save-BpFakeModel
}

function New-BpFakeServiceError([string]$Name, [int]$Code, [string]$Text) {
    # Start-Service says only that the service could not be started; the reason is the inner Win32 error.
    $inner = New-Object System.ComponentModel.Win32Exception($Code, $Text)
    return (New-Object System.InvalidOperationException(('Service ''' + $Name + ''' cannot be started due to the following error: Cannot start service ' + $Name + ' on computer ''.''.'), $inner))
}

# The reason Windows refuses to start the service as its account, or $null.
function Get-BpFakeStartFailure($Service) {
    $account = Resolve-BpAccount $Service.startName
    if ($null -eq $account) { return @(1069, 'The service did not start due to a logon failure.') }
    if ($account.sid -eq 'S-1-5-18') { return $null }
    if (@(Get-BpAccountRights $account.sid) -notcontains 'SeServiceLogonRight') { return @(1069, 'The service did not start due to a logon failure.') }
    $record = Get-BpFakeAccountBySid $account.sid
    if ($null -ne $record -and $record.passwordSha256 -and $record.passwordSha256 -ne $Service.passwordSha256) { return @(1069, 'The service did not start due to a logon failure.') }
    if (Get-BpFakeFault 'serviceFailsToStart') { return @(1053, 'The service did not respond to the start or control request in a timely fashion.') }
    return $null
}

# As ServiceController.Stop / Start: each only asks; the state passes through Stop Pending / Start Pending
# and moves on at the next wait (never, with the fault servicePendingForever).
function Request-BpServiceStop([string]$Name) {
    $service = Get-BpFakeService $Name
    if ($service.state -eq 'Stopped') { return }
    $service.state = 'Stop Pending'
    $script:BpFakePending[$Name] = 'Stopped'
    Add-BpFakeJournal ('service stop ' + $Name)
    Save-BpFakeModel
}

function Request-BpServiceStart([string]$Name) {
    $service = Get-BpFakeService $Name
    if ($service.state -ne 'Stopped') { throw (New-BpFakeServiceError $Name 1056 'An instance of the service is already running.') }
    $failure = Get-BpFakeStartFailure $service
    if ($null -ne $failure) { throw (New-BpFakeServiceError $Name $failure[0] $failure[1]) }
    $service.state = 'Start Pending'
    $script:BpFakePending[$Name] = 'Running'
    Add-BpFakeJournal ('service start ' + $Name)
    Save-BpFakeModel
}

# One step of time for the services: a pending state reaches its end (unless the fault holds it).
function Step-BpFakeServices {
    foreach ($name in @($script:BpFakePending.Keys)) {
        $service = Get-BpFakeService $name
        $target = $script:BpFakePending[$name]
        $forever = Get-BpFakeFault 'servicePendingForever'
        if (($forever -eq 'stop' -and $target -eq 'Stopped') -or ($forever -eq 'start' -and $target -eq 'Running')) { continue }
        $script:BpFakePending.Remove($name)
        $service.state = $target
        Set-BpFakeServiceHive $service ($target -eq 'Running')
        Save-BpFakeModel
    }
}

# ---------------------------------------------------------------- scheduled tasks

function Find-BpTask([string]$Name) {
    $found = @()
    if ((Get-BpFakeFault 'taskMissing') -eq $Name) { return $found }
    foreach ($task in @($script:BpFake.tasks)) {
        if ($task.name -eq $Name) { $found += [ordered]@{ path = $task.path; name = $task.name; userId = (Get-BpFakePrincipalReadBack $task.userId); logonType = $task.logonType; runLevel = $task.runLevel } }
    }
    return $found
}

# The task scheduler keeps the principal as a SID: a domain account or gMSA reads back as its SID, a local
# account as COMPUTER\name, built-in accounts by name.
function Get-BpFakePrincipalReadBack([string]$UserId) {
    $account = Resolve-BpAccount $UserId
    if ($null -eq $account -or $account.sid -eq 'S-1-5-18') { return $UserId }
    $record = Get-BpFakeAccountBySid $account.sid
    if ($null -ne $record -and $record.kind -ne 'local') { return $account.sid }
    return $account.name
}

function Set-BpTaskPrincipal([string]$TaskPath, [string]$TaskName, [string]$UserId, [string]$LogonType, [string]$RunLevel, $Password) {
    if ((Get-BpFakeFault 'taskUpdateFails') -eq $TaskName) { throw ('Set-ScheduledTask: the task ' + $TaskName + ' is read-only (0x80070005)') }
    $account = Resolve-BpAccount $UserId
    if ($null -eq $account) { throw ('No mapping between account names and security IDs was done: ' + $UserId) }
    $record = Get-BpFakeAccountBySid $account.sid
    $hash = $null
    if ($LogonType -eq 'Password' -and $null -ne $record -and $record.passwordSha256) {
        if ($null -eq $Password -or (Get-BpSha256Hex $Password) -ne $record.passwordSha256) { throw 'The user name or password is incorrect. (0x8007052E)' }
        $hash = $record.passwordSha256
    }
    foreach ($task in @($script:BpFake.tasks)) {
        if ($task.name -eq $TaskName -and $task.path -eq $TaskPath) {
            $task.userId = $UserId; $task.logonType = $LogonType; $task.runLevel = $RunLevel; $task.passwordSha256 = $hash
        }
    }
    Add-BpFakeJournal ('task principal ' + $TaskName + ' = ' + $UserId + ' ' + $LogonType)
    Save-BpFakeModel
}

# ---------------------------------------------------------------- secrets, version, files, time

function Get-BpSecret([string]$Reference) {
    if (Get-BpFakeFault 'secretNotFound') { throw 'ResourceNotFoundException: Secrets Manager can''t find the specified secret.' }
    if (-not $script:BpFake.secrets.Contains($Reference)) { throw 'ResourceNotFoundException: Secrets Manager can''t find the specified secret.' }
    $version = '1'
    if ($script:BpFake.Contains('secretVersions') -and $null -ne $script:BpFake.secretVersions -and $script:BpFake.secretVersions.Contains($Reference)) { $version = [string]$script:BpFake.secretVersions[$Reference] }
    return [ordered]@{ value = [string]$script:BpFake.secrets[$Reference]; version = $version }
}

function Get-BpBeaconVersion { return $script:BpFake.beaconVersion }

function Get-BpCaptureDirectory {
    if ($env:BEACON_PROXY_CAPTURE_DIR) { return $env:BEACON_PROXY_CAPTURE_DIR }
    if ($script:BpFake.Contains('captureDir') -and $script:BpFake.captureDir) { return [string]$script:BpFake.captureDir }
    return ($script:BpFakePath -replace '\.json$', '') + '.captures'
}

# File ownership and DACLs of the capture folder, modelled in model.files: a path the layer protected is
# owned by Administrators with SYSTEM and Administrators only; anything else is what %ProgramData% gives a
# file a user created (owner: that user, CREATOR OWNER full control).
function Get-BpFakeFiles {
    if (-not $script:BpFake.Contains('files') -or $null -eq $script:BpFake.files) { $script:BpFake.files = [ordered]@{} }
    return $script:BpFake.files
}

function Initialize-BpCaptureDirectory([string]$Path) {
    if (-not (Test-Path -LiteralPath $Path)) { [void](New-Item -ItemType Directory -Path $Path -Force) }
    $files = Get-BpFakeFiles
    $files[[System.IO.Path]::GetFullPath($Path)] = [ordered]@{ owner = 'S-1-5-32-544'; protected = $true }
    Save-BpFakeModel
}

function Write-BpProtectedFile([string]$Path, [string]$Text) {
    [System.IO.File]::WriteAllText($Path, $Text, (New-Object System.Text.UTF8Encoding($false)))
    $files = Get-BpFakeFiles
    $files[[System.IO.Path]::GetFullPath($Path)] = [ordered]@{ owner = 'S-1-5-32-544'; protected = $true }
    Save-BpFakeModel
}

function Test-BpProtectedFile([string]$Path) {
    $files = Get-BpFakeFiles
    foreach ($item in @([System.IO.Path]::GetDirectoryName([System.IO.Path]::GetFullPath($Path)), [System.IO.Path]::GetFullPath($Path))) {
        if (-not $files.Contains($item) -or -not $files[$item].protected) { return ('owned by S-1-5-21-1111111111-2222222222-3333333333-1005, BUILTIN\Users may change ' + [System.IO.Path]::GetFileName($item)) }
    }
    return $null
}

function Wait-BpInterval([int]$Seconds) {
    Step-BpFakeServices
    foreach ($sid in @($script:BpFakeHiveLag.Keys)) {
        $script:BpFakeHiveLag[$sid] = $script:BpFakeHiveLag[$sid] - 1
        if ($script:BpFakeHiveLag[$sid] -le 0) {
            $script:BpFakeHiveLag.Remove($sid)
            $script:BpFake.hives[$sid].loaded = $false
            Add-BpFakeJournal ('profile unloaded ' + $sid)
            Save-BpFakeModel
        }
    }
}


function Initialize-BpFakeRunningAs {
    $script:BpFakeRunningAs = @{}
    foreach ($service in @($script:BpFake.services)) {
        if ($service.state -ne 'Stopped') {
            $account = Resolve-BpAccount $service.startName
            if ($null -ne $account -and $account.sid -ne 'S-1-5-18') { $script:BpFakeRunningAs[$service.name] = $account.sid }
        }
    }
}
Initialize-BpFakeRunningAs
