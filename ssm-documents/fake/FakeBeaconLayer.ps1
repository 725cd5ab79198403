# Fake Windows layer for tests and the local twin: the same functions as WindowsLayer.ps1, backed by a
# JSON model of a beacon (local/beacon-model.ts describes it). Changes are written back to the model file
# when the document finishes, so a test reads the end state. Never shipped in a document.
# Faults (model.faults): serviceFailsToStart, taskMissing, taskUpdateFails, accessDeniedOnKey, ignoreWrite,
# secretNotFound, lsaAccessDenied, hiveUnloadBusy (count), profileCreateFails, groupAccessDenied.

$script:BpFakePath = $env:BEACON_PROXY_FAKE_MODEL
if (-not $script:BpFakePath -or -not (Test-Path -LiteralPath $script:BpFakePath)) {
    throw ('BEACON_PROXY_FAKE_MODEL must name an existing beacon model file (got: ' + [string]$script:BpFakePath + ')')
}
$script:BpFake = ConvertFrom-BpJson ([System.IO.File]::ReadAllText($script:BpFakePath))

# Changes are marked here and written by Complete-BpLayer, which the document calls when it finishes
# (also after a failure); one write per run keeps the tests fast.
$script:BpFakeDirty = $false

function Save-BpFakeModel { $script:BpFakeDirty = $true }

function Complete-BpLayer {
    if (-not $script:BpFakeDirty) { return }
    [System.IO.File]::WriteAllText($script:BpFakePath, (ConvertTo-Json -InputObject $script:BpFake -Depth 30), (New-Object System.Text.UTF8Encoding($false)))
    $script:BpFakeDirty = $false
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
    return [ordered]@{ type = $values[$Name].type; data = $values[$Name].data }
}

function Assert-BpFakeWritable([string]$Path) {
    if (Test-BpFakePathMatch $Path (Get-BpFakeFault 'accessDeniedOnKey')) {
        throw (New-Object System.UnauthorizedAccessException(('Access to the registry key ''' + $Path + ''' is denied.')))
    }
}

function Set-BpRegistryValue([string]$Path, [string]$Name, [string]$Type, $Data) {
    Assert-BpFakeWritable $Path
    if (Test-BpFakePathMatch ($Path + '\' + $Name) (Get-BpFakeFault 'ignoreWrite')) { return }
    $store = Get-BpFakeStore $Path
    if ($null -eq $store) { throw ('the key ' + $Path + ' does not exist (hive not loaded)') }
    if (-not $store.keys.Contains($store.name)) { $store.keys[$store.name] = [ordered]@{} }
    if ($Type -eq 'DWord') { $Data = [long]$Data }
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
    if (@('LocalSystem', 'SYSTEM', 'NT AUTHORITY\SYSTEM') -contains $wanted) { return [ordered]@{ sid = 'S-1-5-18'; name = 'NT AUTHORITY\SYSTEM' } }
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
    if (Get-BpFakeFault 'profileCreateFails') { throw 'CreateProfile failed: 0x800700B7' }
    $short = ($Name -split '\\')[-1]
    $script:BpFake.profiles[$Sid] = [ordered]@{ path = ('C:\Users\' + $short) }
    $script:BpFake.hives[$Sid] = [ordered]@{ loaded = $false; keys = [ordered]@{} }
    Add-BpFakeJournal ('profile created ' + $Sid)
    Save-BpFakeModel
}

function Remove-BpProfile([string]$Sid) {
    if ($script:BpFake.hives.Contains($Sid) -and $script:BpFake.hives[$Sid].loaded) { throw 'The profile is in use (hive loaded).' }
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
    $script:BpFake.hives[$Sid].loaded = $false
    Add-BpFakeJournal ('reg unload HKU\' + $Sid)
    Save-BpFakeModel
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

function Restart-BpService([string]$Name) {
    $service = Get-BpFakeService $Name
    $service.state = 'Stopped'
    Add-BpFakeJournal ('service stop ' + $Name)
    $account = Resolve-BpAccount $service.startName
    $failure = $null
    if ($account.sid -ne 'S-1-5-18') {
        if (Get-BpFakeFault 'serviceFailsToStart') { $failure = 'Error 1053: The service did not respond to the start request in a timely fashion.' }
        $record = Get-BpFakeAccountBySid $account.sid
        if ($null -ne $record -and $record.passwordSha256 -and $record.passwordSha256 -ne $service.passwordSha256) {
            $failure = 'Error 1069: The service did not start due to a logon failure.'
        }
    }
    if ($null -eq $failure) { $service.state = 'Running'; Add-BpFakeJournal ('service start ' + $Name) }
    Save-BpFakeModel
    if ($null -ne $failure) { throw $failure }
}

# ---------------------------------------------------------------- scheduled tasks

function Find-BpTask([string]$Name) {
    $found = @()
    if ((Get-BpFakeFault 'taskMissing') -eq $Name) { return $found }
    foreach ($task in @($script:BpFake.tasks)) {
        if ($task.name -eq $Name) { $found += [ordered]@{ path = $task.path; name = $task.name; userId = $task.userId; logonType = $task.logonType; runLevel = $task.runLevel } }
    }
    return $found
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
    return [string]$script:BpFake.secrets[$Reference]
}

function Get-BpBeaconVersion { return $script:BpFake.beaconVersion }

function Get-BpCaptureDirectory {
    if ($env:BEACON_PROXY_CAPTURE_DIR) { return $env:BEACON_PROXY_CAPTURE_DIR }
    if ($script:BpFake.Contains('captureDir') -and $script:BpFake.captureDir) { return [string]$script:BpFake.captureDir }
    return ($script:BpFakePath -replace '\.json$', '') + '.captures'
}

function Wait-BpInterval([int]$Seconds) { }

function Test-BpEndpoint([string]$Url, [string]$Proxy) {
    $reachable = @()
    if ($script:BpFake.Contains('reachableEndpoints')) { $reachable = @($script:BpFake.reachableEndpoints) }
    if ($reachable -contains $Url) { return [ordered]@{ ok = $true; status = 200 } }
    return [ordered]@{ ok = $false; status = 'unreachable' }
}
