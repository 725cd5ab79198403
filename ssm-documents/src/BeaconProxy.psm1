# beacon-proxy beacon module: one Get / Test / Set triple per concern, capture and rollback, the WinINet
# connection blob codec and the result line. Every access to Windows goes through the layer functions
# (WindowsLayer.ps1 on a beacon, the fake layer in tests); this file touches nothing by itself.
# Runs on Windows PowerShell 5.1 and PowerShell 7: no 7-only syntax or parameters.

# ---------------------------------------------------------------- errors, data, JSON

function New-BpError([string]$Code, [string]$Message) {
    $exception = New-Object System.InvalidOperationException($Message)
    $exception.Data['BpCode'] = $Code
    return $exception
}

# ConvertFrom-Json gives PSCustomObject on 5.1 (no -AsHashtable): turn it into ordered dictionaries and arrays.
function ConvertTo-BpData($Value) {
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $table = [ordered]@{}
        foreach ($property in $Value.PSObject.Properties) { $table[$property.Name] = ConvertTo-BpData $property.Value }
        return $table
    }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ') }
    if ($Value -is [System.Collections.IList]) {
        $list = New-Object System.Collections.ArrayList
        foreach ($entry in $Value) { [void]$list.Add((ConvertTo-BpData $entry)) }
        return , $list.ToArray()
    }
    return $Value
}

function ConvertFrom-BpJson([string]$Text) {
    return ConvertTo-BpData (ConvertFrom-Json -InputObject $Text)
}

function ConvertTo-BpJson($Value) {
    return ConvertTo-Json -InputObject $Value -Depth 30 -Compress
}

function Get-BpSha256Hex([string]$Text) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { $hash = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Text)) } finally { $sha.Dispose() }
    return ([System.BitConverter]::ToString($hash) -replace '-', '').ToLowerInvariant()
}

# ---------------------------------------------------------------- secrets: SigV4 for the REST fallback

function Get-BpHmac([byte[]]$Key, [string]$Text) {
    $hmac = New-Object System.Security.Cryptography.HMACSHA256(, $Key)
    try { return , $hmac.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($Text)) } finally { $hmac.Dispose() }
}

# Signature Version 4 headers for one AWS JSON call (used when the AWS Tools cmdlets are not installed).
function New-BpSigV4Headers([string]$Method, [string]$HostName, [string]$Path, [string]$Body, [string]$Service, [string]$Region, [string]$Target, $Credentials, [datetime]$Now) {
    $amzDate = $Now.ToString('yyyyMMddTHHmmssZ', [Globalization.CultureInfo]::InvariantCulture)
    $date = $Now.ToString('yyyyMMdd', [Globalization.CultureInfo]::InvariantCulture)
    $headers = @{ 'host' = $HostName; 'x-amz-date' = $amzDate }
    if ($Target) { $headers['x-amz-target'] = $Target; $headers['content-type'] = 'application/x-amz-json-1.1' }
    if ($Credentials.token) { $headers['x-amz-security-token'] = $Credentials.token }
    [string[]]$names = @($headers.Keys)
    [Array]::Sort($names, [StringComparer]::Ordinal)
    $canonicalHeaders = ''
    foreach ($name in $names) { $canonicalHeaders += $name + ':' + $headers[$name] + "`n" }
    $signedHeaders = $names -join ';'
    $canonicalRequest = $Method + "`n" + $Path + "`n`n" + $canonicalHeaders + "`n" + $signedHeaders + "`n" + (Get-BpSha256Hex $Body)
    $scope = $date + '/' + $Region + '/' + $Service + '/aws4_request'
    $stringToSign = "AWS4-HMAC-SHA256`n" + $amzDate + "`n" + $scope + "`n" + (Get-BpSha256Hex $canonicalRequest)
    $key = Get-BpHmac ([System.Text.Encoding]::UTF8.GetBytes('AWS4' + $Credentials.secretKey)) $date
    foreach ($part in @($Region, $Service, 'aws4_request')) { $key = Get-BpHmac $key $part }
    $signature = ([System.BitConverter]::ToString((Get-BpHmac $key $stringToSign)) -replace '-', '').ToLowerInvariant()
    $result = [ordered]@{ Authorization = ('AWS4-HMAC-SHA256 Credential=' + $Credentials.accessKey + '/' + $scope + ', SignedHeaders=' + $signedHeaders + ', Signature=' + $signature) }
    foreach ($name in $names) { if ($name -ne 'host' -and $name -ne 'content-type') { $result[$name] = $headers[$name] } }
    return $result
}

# A secret holds the password itself or a JSON object with a "password" field.
function Select-BpPassword([string]$Value) {
    if ($Value -and $Value.TrimStart().StartsWith('{')) {
        $data = ConvertFrom-BpJson $Value
        foreach ($key in @('password', 'Password')) { if ($data.Contains($key)) { return [string]$data[$key] } }
        throw (New-BpError 'SECRET_FORMAT' 'the secret is a JSON object without a "password" field')
    }
    return $Value
}

# ---------------------------------------------------------------- the WinINet connection blob

$script:BpBlobFlags = @{ Direct = 1; Proxy = 2; AutoProxyUrl = 4; AutoDetect = 8 }
$script:BpBlobVersion = 0x46
$script:BpBlobMinVersion = 60

# Layout: version, counter, flags (DWORD LE each), then proxy server, bypass list and auto-config URL as
# (DWORD byte length, bytes without terminator), then a tail that is kept as it was (zeros for a new blob).
function ConvertFrom-BpConnectionBlob([byte[]]$Bytes) {
    if ($null -eq $Bytes -or $Bytes.Length -lt 12) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings is shorter than its 12-byte header') }
    $position = 12
    $strings = New-Object System.Collections.ArrayList
    for ($index = 0; $index -lt 3; $index++) {
        if ($position + 4 -gt $Bytes.Length) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings ends inside a string length') }
        $length = [System.BitConverter]::ToInt32($Bytes, $position)
        $position += 4
        if ($length -lt 0 -or $position + $length -gt $Bytes.Length) { throw (New-BpError 'WININET_BLOB_INVALID' 'DefaultConnectionSettings has a string longer than the blob') }
        [void]$strings.Add([System.Text.Encoding]::ASCII.GetString($Bytes, $position, $length))
        $position += $length
    }
    $tail = New-Object byte[] ($Bytes.Length - $position)
    [System.Array]::Copy($Bytes, $position, $tail, 0, $tail.Length)
    return [ordered]@{
        version       = [System.BitConverter]::ToInt32($Bytes, 0)
        counter       = [System.BitConverter]::ToUInt32($Bytes, 4)
        flags         = [System.BitConverter]::ToInt32($Bytes, 8)
        proxyServer   = $strings[0]
        bypass        = $strings[1]
        autoConfigUrl = $strings[2]
        tail          = [System.Convert]::ToBase64String($tail)
    }
}

function ConvertTo-BpConnectionBlob($Settings) {
    $stream = New-Object System.IO.MemoryStream
    $writer = New-Object System.IO.BinaryWriter($stream)
    $writer.Write([int]$Settings.version)
    $writer.Write([uint32]$Settings.counter)
    $writer.Write([int]$Settings.flags)
    foreach ($text in @($Settings.proxyServer, $Settings.bypass, $Settings.autoConfigUrl)) {
        $bytes = [System.Text.Encoding]::ASCII.GetBytes([string]$text)
        $writer.Write([int]$bytes.Length)
        $writer.Write($bytes)
    }
    if ($Settings.Contains('tail') -and $Settings.tail) { $writer.Write([System.Convert]::FromBase64String([string]$Settings.tail)) } else { $writer.Write((New-Object byte[] 32)) }
    $writer.Flush()
    return , $stream.ToArray()
}

# The blob WinINet should hold: proxy on, direct kept, no auto-config URL, auto-detect as it was, counter + 1.
function New-BpConnectionSettings($Current, $Desired) {
    $version = $script:BpBlobVersion
    $counter = [uint32]1
    $autoDetect = 0
    $tail = $null
    if ($null -ne $Current) {
        if ($Current.version -ge $script:BpBlobMinVersion) { $version = $Current.version }
        $counter = [uint32](([long]$Current.counter + 1) % 4294967296)
        $autoDetect = $Current.flags -band $script:BpBlobFlags.AutoDetect
        $tail = $Current.tail
    }
    return [ordered]@{
        version = $version; counter = $counter
        flags = $script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy -bor $autoDetect
        proxyServer = $Desired.proxyServer; bypass = $Desired.bypass; autoConfigUrl = ''; tail = $tail
    }
}

# ---------------------------------------------------------------- plan: the entries a desired state touches

$script:BpWininetKey = 'Software\Microsoft\Windows\CurrentVersion\Internet Settings'
$script:BpWininetPolicyKey = 'HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings'
$script:BpAdministratorsSid = 'S-1-5-32-544'
$script:BpLocalSystemSid = 'S-1-5-18'

function New-BpEntry([string]$Id, [string]$Concern, $Desired, [hashtable]$Target) {
    $entry = [ordered]@{ id = $Id; concern = $Concern; desired = $Desired; hive = $null; before = $null }
    foreach ($key in $Target.Keys) { $entry[$key] = $Target[$key] }
    return $entry
}

function Find-BpFlexNetRoot($State) {
    foreach ($root in @($State.registryRoots)) {
        if (Test-BpRegistryKey ('HKLM\' + $root)) { return $root }
    }
    throw (New-BpError 'REGISTRY_ROOT_NOT_FOUND' ('no FlexNet registry root found (looked for HKLM\' + (@($State.registryRoots) -join ' and HKLM\') + '); is FlexNet Beacon installed?'))
}

# Required tasks by name or alias, optional tasks when present. Returns the found tasks in plan order.
function Find-BpBeaconTasks($State, [switch]$AllowMissing) {
    $found = New-Object System.Collections.ArrayList
    $missing = New-Object System.Collections.ArrayList
    foreach ($name in @($State.tasks)) {
        $candidates = @($name)
        if ($State.taskAliases -and $State.taskAliases.Contains($name)) { $candidates += @($State.taskAliases[$name]) }
        $hit = $null
        foreach ($candidate in $candidates) {
            $tasks = @(Find-BpTask $candidate)
            if ($tasks.Count -gt 0) { $hit = $tasks; break }
        }
        if ($null -eq $hit) { [void]$missing.Add($name) } else { foreach ($task in $hit) { [void]$found.Add($task) } }
    }
    foreach ($name in @($State.optionalTasks)) {
        foreach ($task in @(Find-BpTask $name)) { [void]$found.Add($task) }
    }
    if ($missing.Count -gt 0 -and -not $AllowMissing) {
        throw (New-BpError 'TASK_NOT_FOUND' ('required scheduled task not found: ' + ($missing -join ', ') + '; add its name to the task list if this beacon version names it differently'))
    }
    return [ordered]@{ found = $found.ToArray(); missing = $missing.ToArray() }
}

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

function Get-BpWininetPaths($State, [string]$Sid) {
    if ($State.wininet.scope -eq 'machine') {
        return [ordered]@{ settings = 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings'; hive = $null }
    }
    return [ordered]@{ settings = 'HKU\' + $Sid + '\' + $script:BpWininetKey; hive = $Sid }
}

# Stage 1: the account itself (only a local account is ever created).
function New-BpAccountStage($State) {
    $entries = @()
    if ($State.account.kind -eq 'local' -and $State.account.createIfMissing) {
        $entries += New-BpEntry ('account:' + $State.account.name) 'account' $true @{ name = $State.account.name }
    }
    return , $entries
}

# Stage 2: everything that needs the account's SID. Order matters: rollback walks it backwards.
function New-BpSettingsStage($State, [string]$Root, [string]$Sid, $Names, $Service, $Tasks) {
    $entries = @()
    foreach ($right in @($State.account.rights)) {
        $entries += New-BpEntry ('right:' + $right) 'right' $true @{ sid = $Sid; right = $right }
    }
    if ($State.account.localAdmin) {
        $entries += New-BpEntry 'group:Administrators' 'group' $true @{ sid = $Sid; group = $script:BpAdministratorsSid }
    }
    foreach ($value in @($State.registry)) {
        $desired = $null
        if ($null -ne $value.value) { $desired = [ordered]@{ type = $value.type; data = $value.value } }
        $entries += New-BpEntry ('registry:' + $value.path + '\' + $value.name) 'registry' $desired @{ path = 'HKLM\' + $Root + '\' + $value.path; name = $value.name }
    }
    $wininet = Get-BpWininetPaths $State $Sid
    if ($State.wininet.scope -eq 'machine') {
        $entries += New-BpEntry 'wininet:ProxySettingsPerUser' 'registry' ([ordered]@{ type = 'DWord'; data = 0 }) @{ path = $script:BpWininetPolicyKey; name = 'ProxySettingsPerUser' }
    } else {
        $entries += New-BpEntry 'profile' 'profile' $true @{ sid = $Sid; name = $Names.ntName }
    }
    $bypass = @($State.wininet.bypass) -join ';'
    $override = $null
    if ($bypass) { $override = [ordered]@{ type = 'String'; data = $bypass } }
    $wininetEntries = @(
        (New-BpEntry 'wininet:ProxyEnable' 'registry' ([ordered]@{ type = 'DWord'; data = 1 }) @{ path = $wininet.settings; name = 'ProxyEnable' }),
        (New-BpEntry 'wininet:ProxyServer' 'registry' ([ordered]@{ type = 'String'; data = $State.wininet.proxyServer }) @{ path = $wininet.settings; name = 'ProxyServer' }),
        (New-BpEntry 'wininet:ProxyOverride' 'registry' $override @{ path = $wininet.settings; name = 'ProxyOverride' }),
        (New-BpEntry 'wininet:AutoConfigURL' 'registry' $null @{ path = $wininet.settings; name = 'AutoConfigURL' }),
        (New-BpEntry 'wininet:DefaultConnectionSettings' 'blob' ([ordered]@{ proxyServer = $State.wininet.proxyServer; bypass = $bypass; autoConfigUrl = '' }) @{ path = $wininet.settings + '\Connections'; name = 'DefaultConnectionSettings' })
    )
    foreach ($entry in $wininetEntries) { $entry.hive = $wininet.hive; $entries += $entry }
    $entries += New-BpEntry 'service:logon' 'serviceLogon' $Names.serviceName @{ service = $Service.name }
    foreach ($task in @($Tasks)) {
        $entries += New-BpEntry ('task:' + $task.name) 'task' ([ordered]@{ userId = $Names.ntName; logonType = 'Password' }) @{ taskPath = $task.path; taskName = $task.name }
    }
    return , $entries
}

# ---------------------------------------------------------------- concern: registry values (incl. ensure absent)

function Get-BpRegistryEntry($Entry) { return Get-BpRegistryValue $Entry.path $Entry.name }

function Test-BpRegistryEntry($Entry, $Actual, $Expected) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    if ($Actual.type -ne $Expected.type) { return $false }
    if ($Expected.type -eq 'DWord' -or $Expected.type -eq 'QWord') { return ([long]$Actual.data -eq [long]$Expected.data) }
    return ((ConvertTo-BpJson $Actual.data) -ceq (ConvertTo-BpJson $Expected.data))
}

function Set-BpRegistryEntry($Entry, $Value) {
    if ($null -eq $Value) { Remove-BpRegistryValue $Entry.path $Entry.name } else { Set-BpRegistryValue $Entry.path $Entry.name $Value.type $Value.data }
}

# ---------------------------------------------------------------- concern: WinINet connection blob

function Get-BpBlobEntry($Entry) {
    $value = Get-BpRegistryValue $Entry.path $Entry.name
    if ($null -eq $value) { return $null }
    return $value.data
}

function Test-BpBlobEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($Exact -or $null -eq $Expected -or $null -eq $Actual) { return ([string]$Actual -ceq [string]$Expected) -and (($null -eq $Actual) -eq ($null -eq $Expected)) }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Actual)) } catch { return $false }
    $mask = $script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy -bor $script:BpBlobFlags.AutoProxyUrl
    return ($blob.version -ge $script:BpBlobMinVersion -and ($blob.flags -band $mask) -eq ($script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy) -and
        $blob.proxyServer -ceq $Expected.proxyServer -and $blob.bypass -ceq $Expected.bypass -and $blob.autoConfigUrl -ceq '')
}

function Set-BpBlobEntry($Entry, $Value, [bool]$Restore) {
    if ($null -eq $Value) { Remove-BpRegistryValue $Entry.path $Entry.name; return }
    if ($Restore) { Set-BpRegistryValue $Entry.path $Entry.name 'Binary' $Value; return }
    $current = $null
    $raw = Get-BpBlobEntry $Entry
    if ($null -ne $raw) { try { $current = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($raw)) } catch { $current = $null } }
    $bytes = ConvertTo-BpConnectionBlob (New-BpConnectionSettings $current $Value)
    Set-BpRegistryValue $Entry.path $Entry.name 'Binary' ([System.Convert]::ToBase64String($bytes))
}

function Format-BpBlob($Raw) {
    if ($null -eq $Raw) { return $null }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Raw)) } catch { return 'invalid blob' }
    return [ordered]@{ flags = $blob.flags; proxyServer = $blob.proxyServer; bypass = $blob.bypass; autoConfigUrl = $blob.autoConfigUrl }
}

# ---------------------------------------------------------------- concern: account existence / creation (local)

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

# ---------------------------------------------------------------- concern: user rights (LSA)

function Get-BpRightEntry($Entry) { return (@(Get-BpAccountRights $Entry.sid) -contains $Entry.right) }

function Set-BpRightEntry($Entry, $Value) {
    if ($Value) { Add-BpAccountRight $Entry.sid $Entry.right } else { Remove-BpAccountRight $Entry.sid $Entry.right }
}

# ---------------------------------------------------------------- concern: local Administrators membership

function Get-BpGroupEntry($Entry) { return (@(Get-BpGroupMembers $Entry.group) -contains $Entry.sid) }

function Set-BpGroupEntry($Entry, $Value) {
    if ($Value) { Add-BpGroupMember $Entry.group $Entry.sid } else { Remove-BpGroupMember $Entry.group $Entry.sid }
}

# ---------------------------------------------------------------- concern: user profile (for the account's hive)

function Get-BpProfileEntry($Entry) { return ($null -ne (Get-BpProfile $Entry.sid)) }

function Set-BpProfileEntry($Entry, $Value) {
    if ($Value) { New-BpProfile $Entry.sid $Entry.name } else { Remove-BpProfile $Entry.sid }
}

# ---------------------------------------------------------------- concern: service logon

function Get-BpServiceLogonEntry($Entry) {
    $service = Get-BpService $Entry.service
    if ($null -eq $service) { return $null }
    return $service.startName
}

function Test-BpSameAccount([string]$Left, [string]$Right) {
    if (-not $Left -or -not $Right) { return ($Left -eq $Right) }
    if ($Left -eq $Right) { return $true }
    $a = Resolve-BpAccount $Left
    $b = Resolve-BpAccount $Right
    return ($null -ne $a -and $null -ne $b -and $a.sid -eq $b.sid)
}

function Set-BpServiceLogonEntry($Entry, $Value, [bool]$Restore) {
    $password = $null
    if (-not $Restore) { $password = $script:BpPassword; if ($null -eq $password) { $password = '' } }
    Set-BpServiceLogon $Entry.service $Value $password
}

# ---------------------------------------------------------------- concern: scheduled task principals

function Get-BpTaskEntry($Entry) {
    foreach ($task in @(Find-BpTask $Entry.taskName)) {
        if ($task.path -eq $Entry.taskPath) { return [ordered]@{ userId = $task.userId; logonType = $task.logonType; runLevel = $task.runLevel } }
    }
    return $null
}

function Test-BpTaskEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    if ($Actual.logonType -ne $Expected.logonType) { return $false }
    if ($Exact -and $Actual.runLevel -ne $Expected.runLevel) { return $false }
    return (Test-BpSameAccount $Actual.userId $Expected.userId)
}

function Set-BpTaskEntry($Entry, $Value, [bool]$Restore) {
    $runLevel = $null
    if ($Value.Contains('runLevel')) { $runLevel = $Value.runLevel }
    if (-not $Restore) {
        $current = Get-BpTaskEntry $Entry
        $runLevel = 'Highest'
        if ($null -ne $current -and $current.runLevel) { $runLevel = $current.runLevel }
    }
    $password = $null
    if (-not $Restore) { $password = $script:BpPassword }
    Set-BpTaskPrincipal $Entry.taskPath $Entry.taskName $Value.userId $Value.logonType $runLevel $password
}

# ---------------------------------------------------------------- dispatch over the concerns

function Get-BpEntry($Entry) {
    switch ($Entry.concern) {
        'registry' { return Get-BpRegistryEntry $Entry }
        'blob' { return Get-BpBlobEntry $Entry }
        'account' { return Get-BpAccountEntry $Entry }
        'right' { return Get-BpRightEntry $Entry }
        'group' { return Get-BpGroupEntry $Entry }
        'profile' { return Get-BpProfileEntry $Entry }
        'serviceLogon' { return Get-BpServiceLogonEntry $Entry }
        'task' { return Get-BpTaskEntry $Entry }
    }
    throw (New-BpError 'INTERNAL' ('unknown concern ' + $Entry.concern))
}

# $Exact: compare with a captured value (rollback) rather than with the desired state.
function Test-BpEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    switch ($Entry.concern) {
        'registry' { return Test-BpRegistryEntry $Entry $Actual $Expected }
        'blob' { return Test-BpBlobEntry $Entry $Actual $Expected $Exact }
        'serviceLogon' { return Test-BpSameAccount $Actual $Expected }
        'task' { return Test-BpTaskEntry $Entry $Actual $Expected $Exact }
    }
    return ([bool]$Actual -eq [bool]$Expected)
}

function Set-BpEntry($Entry, $Value, [bool]$Restore) {
    switch ($Entry.concern) {
        'registry' { Set-BpRegistryEntry $Entry $Value; return }
        'blob' { Set-BpBlobEntry $Entry $Value $Restore; return }
        'account' { Set-BpAccountEntry $Entry $Value $Restore; return }
        'right' { Set-BpRightEntry $Entry $Value; return }
        'group' { Set-BpGroupEntry $Entry $Value; return }
        'profile' { Set-BpProfileEntry $Entry $Value; return }
        'serviceLogon' { Set-BpServiceLogonEntry $Entry $Value $Restore; return }
        'task' { Set-BpTaskEntry $Entry $Value $Restore; return }
    }
    throw (New-BpError 'INTERNAL' ('unknown concern ' + $Entry.concern))
}

# The value as the result line shows it (expected / actual of a check).
function Format-BpEntryValue($Entry, $Value) {
    if ($null -eq $Value) { return $null }
    switch ($Entry.concern) {
        'registry' { return $Value.data }
        'blob' { if ($Value -is [string]) { return Format-BpBlob $Value } return $Value }
        'task' { return ([string]$Value.userId + ' (' + [string]$Value.logonType + ')') }
    }
    return $Value
}

# ---------------------------------------------------------------- the account's hive

function Invoke-BpWithHive([string]$Sid, [scriptblock]$HiveAction) {
    if (-not $Sid) { & $HiveAction; return }
    $userProfile = Get-BpProfile $Sid
    if ($null -eq $userProfile) { throw (New-BpError 'PROFILE_NOT_FOUND' ('the account ' + $Sid + ' has no user profile, so its WinINet settings cannot be read')) }
    $mounted = $false
    if (-not $userProfile.loaded) { Mount-BpUserHive $Sid $userProfile.path; $mounted = $true }
    try { & $HiveAction }
    finally { if ($mounted) { Dismount-BpUserHiveWithRetry $Sid } }
}

# Unloading fails while handles are still open: collect garbage and retry a few times.
function Dismount-BpUserHiveWithRetry([string]$Sid) {
    $lastError = $null
    for ($attempt = 1; $attempt -le 5; $attempt++) {
        [System.GC]::Collect()
        [System.GC]::WaitForPendingFinalizers()
        try { Dismount-BpUserHive $Sid; return } catch { $lastError = $_.Exception.Message; Wait-BpInterval 1 }
    }
    throw (New-BpError 'HIVE_UNLOAD_FAILED' ('could not unload the hive of ' + $Sid + ': ' + $lastError))
}

# Runs $EntryAction for each entry, inside its hive; consecutive entries of the same hive share one load.
function Invoke-BpEntries($Entries, [scriptblock]$EntryAction) {
    $run = New-Object System.Collections.ArrayList
    $runHive = $null
    foreach ($entry in @($Entries) + @($null)) {
        $hive = $null
        if ($null -ne $entry) { $hive = $entry.hive }
        if ($run.Count -gt 0 -and ($null -eq $entry -or $hive -ne $runHive)) {
            $batch = $run.ToArray()
            Invoke-BpWithHive $runHive { foreach ($item in $batch) { & $EntryAction $item } }
            $run.Clear()
        }
        if ($null -ne $entry) { [void]$run.Add($entry); $runHive = $hive }
    }
}

# ---------------------------------------------------------------- capture

function Get-BpCapturePath([string]$Id) {
    return (Join-Path (Get-BpCaptureDirectory) ($Id + '.json'))
}

function Save-BpCapture($Capture) {
    if (-not $Capture.persist) { return }
    $directory = Get-BpCaptureDirectory
    if (-not (Test-Path -LiteralPath $directory)) { [void](New-Item -ItemType Directory -Path $directory -Force) }
    $copy = [ordered]@{}
    foreach ($key in $Capture.Keys) { if ($key -ne 'persist') { $copy[$key] = $Capture[$key] } }
    $path = Get-BpCapturePath $Capture.captureId
    [System.IO.File]::WriteAllText($path, (ConvertTo-BpJson $copy), (New-Object System.Text.UTF8Encoding($false)))
}

function Read-BpCapture([string]$Id) {
    $path = Get-BpCapturePath $Id
    if (-not (Test-Path -LiteralPath $path)) { throw (New-BpError 'CAPTURE_NOT_FOUND' ('no capture ' + $Id + ' on this beacon (' + $path + ')')) }
    return ConvertFrom-BpJson ([System.IO.File]::ReadAllText($path))
}

# Records the current value of each entry before anything changes. The first capture of a request id is
# kept on disk (it is the state before the request); a re-run keeps its own capture in memory.
function Add-BpCaptureEntries($Capture, $Entries) {
    Invoke-BpEntries $Entries {
        param($entry)
        $entry.before = Get-BpEntry $entry
        if ($entry.concern -eq 'registry' -or $entry.concern -eq 'blob') { $entry.keyExisted = Test-BpRegistryKey $entry.path }
        [void]$Capture.entries.Add($entry)
    }
    Save-BpCapture $Capture
}

# ---------------------------------------------------------------- apply, verify, restore

function Invoke-BpApply($Entries, $Changed) {
    Invoke-BpEntries $Entries {
        param($entry)
        $script:BpStep = 'apply:' + $entry.id
        $current = Get-BpEntry $entry
        if (-not (Test-BpEntry $entry $current $entry.desired $false)) {
            Set-BpEntry $entry $entry.desired $false
            [void]$Changed.Add($entry.id)
        }
    }
}

function New-BpCheck([string]$Name, $Expected, $Actual, [bool]$Ok) {
    return [ordered]@{ name = $Name; expected = $Expected; actual = $Actual; ok = $Ok }
}

# Reads every entry back from the system and compares it with the desired state.
function Get-BpChecks($Entries, $Checks) {
    Invoke-BpEntries $Entries {
        param($entry)
        $actual = Get-BpEntry $entry
        $ok = Test-BpEntry $entry $actual $entry.desired $false
        [void]$Checks.Add((New-BpCheck $entry.id (Format-BpEntryValue $entry $entry.desired) (Format-BpEntryValue $entry $actual) $ok))
    }
}

function Wait-BpServiceRunning([string]$Name, [int]$TimeoutSeconds) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $service = Get-BpService $Name
        if ($null -ne $service -and $service.state -eq 'Running') { return }
        if ($null -eq $service -or $service.state -eq 'Stopped' -or [DateTime]::UtcNow -gt $deadline) {
            $state = 'missing'
            if ($null -ne $service) { $state = $service.state }
            throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not reach Running within ' + $TimeoutSeconds + ' s (state: ' + $state + ')'))
        }
        Wait-BpInterval 2
    }
}

function Restart-BpServiceAndWait([string]$Name, [int]$TimeoutSeconds) {
    try { Restart-BpService $Name } catch { throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not start: ' + $_.Exception.Message)) }
    Wait-BpServiceRunning $Name $TimeoutSeconds
}

# Puts every captured entry back as it was, newest first. The service is restarted as soon as its logon is
# back (so it lets go of the account's profile before that is touched), or at the end if it is not running.
function Restore-BpCapture($Capture, $Checks) {
    $restored = New-Object System.Collections.ArrayList
    $failures = New-Object System.Collections.ArrayList
    $service = $Capture.service
    $serviceHandled = $false
    $entries = @($Capture.entries)
    [array]::Reverse($entries)
    foreach ($entry in $entries) {
        try {
            Invoke-BpWithHive $entry.hive {
                $current = Get-BpEntry $entry
                if (-not (Test-BpEntry $entry $current $entry.before $true)) {
                    Set-BpEntry $entry $entry.before $true
                    [void]$restored.Add($entry.id)
                }
                # A key this run created goes too, once its last value is gone.
                if ($entry.Contains('keyExisted') -and -not $entry.keyExisted) { Remove-BpRegistryKeyIfEmpty $entry.path }
            }
        } catch { [void]$failures.Add($entry.id + ': ' + $_.Exception.Message) }
        if ($entry.concern -eq 'serviceLogon' -and $restored -contains $entry.id -and $null -ne $service -and $service.state -eq 'Running') {
            $serviceHandled = $true
            try { Restart-BpServiceAndWait $service.name 120 } catch { [void]$failures.Add('service:running: ' + $_.Exception.Message) }
        }
    }
    if (-not $serviceHandled -and $null -ne $service -and $service.state -eq 'Running') {
        $current = Get-BpService $service.name
        if ($restored.Count -gt 0 -or $null -eq $current -or $current.state -ne 'Running') {
            try { Restart-BpServiceAndWait $service.name 120 } catch { [void]$failures.Add('service:running: ' + $_.Exception.Message) }
        }
    }
    $profileCreated = @($Capture.entries | Where-Object { $_.concern -eq 'profile' -and -not $_.before }).Count -gt 0
    foreach ($entry in @($Capture.entries)) {
        # Settings inside a profile this run created went away with the profile.
        if ($entry.hive -and $profileCreated -and $null -eq (Get-BpProfile $entry.hive)) { continue }
        try {
            Invoke-BpWithHive $entry.hive {
                $actual = Get-BpEntry $entry
                $ok = Test-BpEntry $entry $actual $entry.before $true
                [void]$Checks.Add((New-BpCheck ('restored:' + $entry.id) (Format-BpEntryValue $entry $entry.before) (Format-BpEntryValue $entry $actual) $ok))
                if (-not $ok) { [void]$failures.Add($entry.id + ': not back to its captured value') }
            }
        } catch { [void]$failures.Add($entry.id + ': ' + $_.Exception.Message) }
    }
    $message = $null
    if ($failures.Count -gt 0) { $message = Protect-BpText ($failures -join '; ') }
    return [ordered]@{ attempted = $true; ok = ($failures.Count -eq 0); restored = $restored.ToArray(); error = $message }
}

# ---------------------------------------------------------------- the three documents

function Protect-BpText([string]$Text) {
    if (-not $script:BpPassword -or -not $Text) { return $Text }
    $escaped = (ConvertTo-Json -InputObject $script:BpPassword -Compress).Trim('"')
    return $Text.Replace($script:BpPassword, '********').Replace($escaped, '********')
}

function Get-BpParameter([string]$Name, [string]$Interpolated) {
    $value = [Environment]::GetEnvironmentVariable('SSM_' + $Name)
    if (-not $value -and $Interpolated -and -not $Interpolated.StartsWith('{{')) { $value = $Interpolated }
    return $value
}

function Read-BpDesiredState([string]$Encoded) {
    if (-not $Encoded -or $Encoded -notmatch '^[A-Za-z0-9+/]+={0,2}$') { throw (New-BpError 'INVALID_PARAMETER' 'DesiredState is missing or not base64') }
    try { $state = ConvertFrom-BpJson ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($Encoded))) }
    catch { throw (New-BpError 'INVALID_PARAMETER' 'DesiredState is not base64 of a JSON desired state') }
    if ($null -eq $state -or $state.schema -ne 1) { throw (New-BpError 'UNSUPPORTED_DESIRED_STATE' 'the desired state is not schema 1; update the beacon documents') }
    if ($state.requestId -notmatch '^[A-Za-z0-9._-]{1,64}$') { throw (New-BpError 'INVALID_PARAMETER' 'the desired state has no valid requestId') }
    return $state
}

function New-BpResult([string]$Kind) {
    return [ordered]@{
        ok = $false; document = $Kind; requestId = $null
        changed = (New-Object System.Collections.ArrayList); checks = (New-Object System.Collections.ArrayList)
        beaconVersion = $null; captureId = $null; error = $null; rollback = $null
        tasksFound = (New-Object System.Collections.ArrayList)
    }
}

function Get-BpSecretValue($State) {
    if ($State.account.kind -eq 'gmsa' -or -not $State.account.passwordRef) { return $null }
    try { $secret = Get-BpSecret $State.account.passwordRef }
    catch { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $State.account.passwordRef + ' could not be read with the instance role: ' + $_.Exception.Message)) }
    if (-not $secret) { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $State.account.passwordRef + ' is empty')) }
    return $secret
}

function Resolve-BpPlan($State, $Result, [switch]$ReadOnly) {
    $script:BpStep = 'plan'
    $root = Find-BpFlexNetRoot $State
    $service = Get-BpService $State.service.displayName
    if ($null -eq $service) { throw (New-BpError 'SERVICE_NOT_FOUND' ('no service named ' + $State.service.displayName + ' on this beacon')) }
    $tasks = Find-BpBeaconTasks $State -AllowMissing:$ReadOnly
    foreach ($task in @($tasks.found)) { [void]$Result.tasksFound.Add($task.name) }
    return [ordered]@{ root = $root; service = $service; tasks = $tasks }
}

function Invoke-BpConfigure($State, $Result) {
    $plan = Resolve-BpPlan $State $Result
    $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
    if ($null -eq $account -and -not $State.account.createIfMissing) {
        throw (New-BpError 'ACCOUNT_NOT_FOUND' ('the account ' + $State.account.name + ' does not exist; create it in the domain first'))
    }
    $script:BpStep = 'secret'
    $script:BpPassword = Get-BpSecretValue $State

    $script:BpStep = 'capture'
    $capturePath = Get-BpCapturePath $State.requestId
    $capture = [ordered]@{
        schema = 1; captureId = $State.requestId; root = $plan.root
        service = [ordered]@{ name = $plan.service.name; startName = $plan.service.startName; state = $plan.service.state }
        entries = (New-Object System.Collections.ArrayList); persist = (-not (Test-Path -LiteralPath $capturePath))
    }
    $Result.captureId = $State.requestId
    $all = New-Object System.Collections.ArrayList
    try {
        $stage = New-BpAccountStage $State
        Add-BpCaptureEntries $capture $stage
        Invoke-BpApply $stage $Result.changed
        foreach ($entry in $stage) { [void]$all.Add($entry) }

        $script:BpStep = 'capture'
        $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
        if ($null -eq $account) { throw (New-BpError 'ACCOUNT_NOT_FOUND' ('the account ' + $State.account.name + ' cannot be resolved after creation')) }
        $names = Get-BpAccountNames $State $account
        $stage = New-BpSettingsStage $State $plan.root $account.sid $names $plan.service $plan.tasks.found
        # The profile must exist before its hive can be captured: capture and create it first.
        $profileEntries = @($stage | Where-Object { $_.concern -eq 'profile' })
        $rest = @($stage | Where-Object { $_.concern -ne 'profile' })
        Add-BpCaptureEntries $capture $profileEntries
        Invoke-BpApply $profileEntries $Result.changed
        Add-BpCaptureEntries $capture $rest
        Invoke-BpApply $rest $Result.changed
        foreach ($entry in $stage) { [void]$all.Add($entry) }

        $script:BpStep = 'service'
        $current = Get-BpService $plan.service.name
        if ($Result.changed.Count -gt 0 -or $current.state -ne 'Running') {
            Restart-BpServiceAndWait $plan.service.name ([int]$State.service.startTimeoutSeconds)
            [void]$Result.changed.Add('service:restarted')
        }

        $script:BpStep = 'verify'
        Get-BpChecks $all $Result.checks
        $service = Get-BpService $plan.service.name
        [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
        $failed = @($Result.checks | Where-Object { -not $_.ok } | ForEach-Object { $_.name })
        if ($failed.Count -gt 0) { throw (New-BpError 'VERIFY_FAILED' ('read back differs from the desired state: ' + ($failed -join ', '))) }
        $Result.ok = $true
    } catch {
        Set-BpResultError $Result $_
        $script:BpStep = 'rollback'
        $Result.rollback = Restore-BpCapture $capture $Result.checks
    }
}

function Invoke-BpVerify($State, $Result, [string]$CheckEndpoint) {
    $plan = Resolve-BpPlan $State $Result -ReadOnly
    foreach ($name in @($plan.tasks.missing)) { [void]$Result.checks.Add((New-BpCheck ('task:' + $name) 'present' $null $false)) }
    $script:BpStep = 'verify'
    $account = Resolve-BpAccount (Get-BpAccountLookupName $State)
    [void]$Result.checks.Add((New-BpCheck ('account:' + $State.account.name) $true ($null -ne $account) ($null -ne $account)))
    if ($null -ne $account) {
        $names = Get-BpAccountNames $State $account
        $entries = New-BpSettingsStage $State $plan.root $account.sid $names $plan.service $plan.tasks.found
        $hiveEntries = @($entries | Where-Object { $_.hive })
        if ($hiveEntries.Count -gt 0 -and $null -eq (Get-BpProfile $account.sid)) {
            $entries = @($entries | Where-Object { -not $_.hive })
            [void]$Result.checks.Add((New-BpCheck 'wininet' 'profile with proxy settings' 'no profile' $false))
        }
        Get-BpChecks $entries $Result.checks
    }
    $service = Get-BpService $plan.service.name
    [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
    if ($CheckEndpoint -and $CheckEndpoint -ne 'none') {
        $probe = Test-BpEndpoint $CheckEndpoint $State.wininet.proxyServer
        [void]$Result.checks.Add((New-BpCheck 'endpoint' 'reachable' $probe.status $probe.ok))
    }
    $failed = @($Result.checks | Where-Object { -not $_.ok } | ForEach-Object { $_.name })
    if ($failed.Count -gt 0) {
        $Result.error = [ordered]@{ code = 'DRIFT'; message = ('the beacon differs from the desired state: ' + ($failed -join ', ') + '; run configure again'); step = 'verify' }
    } else { $Result.ok = $true }
}

function Invoke-BpRollback([string]$CaptureId, $Result) {
    $script:BpStep = 'rollback'
    $Result.captureId = $CaptureId
    $capture = Read-BpCapture $CaptureId
    $Result.requestId = $capture.captureId
    $Result.rollback = Restore-BpCapture $capture $Result.checks
    foreach ($id in @($Result.rollback.restored)) { [void]$Result.changed.Add($id) }
    if ($Result.rollback.ok) { $Result.ok = $true }
    else { $Result.error = [ordered]@{ code = 'ROLLBACK_FAILED'; message = $Result.rollback.error; step = 'rollback' } }
}

function Set-BpResultError($Result, $ErrorRecord) {
    $code = 'UNEXPECTED'
    if ($ErrorRecord.Exception.Data.Contains('BpCode')) { $code = [string]$ErrorRecord.Exception.Data['BpCode'] }
    else { [Console]::Error.WriteLine('beacon-proxy: unexpected error at ' + $ErrorRecord.InvocationInfo.PositionMessage + "`n" + $ErrorRecord.ScriptStackTrace) }
    $Result.error = [ordered]@{ code = $code; message = (Protect-BpText $ErrorRecord.Exception.Message); step = $script:BpStep }
}

# Prints the one result line and returns the exit code. Keeps the line under the pipeline's limit.
function Write-BpResult($Result) {
    try { $Result.beaconVersion = Get-BpBeaconVersion } catch { $Result.beaconVersion = $null }
    $line = Protect-BpText (ConvertTo-BpJson $Result)
    if ($line.Length -gt 15000) {
        $Result.checks = @($Result.checks | Where-Object { -not $_.ok } | Select-Object -First 20)
        $line = Protect-BpText (ConvertTo-BpJson $Result)
    }
    [Console]::Out.WriteLine($line)
    if ($Result.ok) { return 0 }
    return 1
}

function Invoke-BpDocument([string]$Kind, [hashtable]$Parameters) {
    $script:BpStep = 'start'
    $script:BpPassword = $null
    $result = New-BpResult $Kind
    try {
        if ($script:BpLayerError) { throw (New-BpError 'LAYER_MISSING' $script:BpLayerError) }
        if ($Kind -eq 'rollback') {
            if ($Parameters.CaptureId -notmatch '^[A-Za-z0-9._-]{1,64}$') { throw (New-BpError 'INVALID_PARAMETER' 'CaptureId is missing or not a plain id') }
            Invoke-BpRollback $Parameters.CaptureId $result
        } else {
            $state = Read-BpDesiredState $Parameters.DesiredState
            $result.requestId = $state.requestId
            if ($Kind -eq 'configure') { Invoke-BpConfigure $state $result } else { Invoke-BpVerify $state $result $Parameters.CheckEndpoint }
        }
    } catch {
        Set-BpResultError $result $_
    }
    $script:BpPassword = $null
    if (-not $script:BpLayerError) {
        try { Complete-BpLayer } catch { Set-BpResultError $result $_; $result.ok = $false }
    }
    return (Write-BpResult $result)
}
