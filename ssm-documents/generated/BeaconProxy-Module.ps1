# beacon-proxy beacon module: generated from ssm-documents/src by ssm-documents/build.ts; edit the sources, not this file.
# The Configure, Verify and Rollback documents download this file (aws:downloadContent), check its SHA-256
# against the one they pin and only then run it. Windows PowerShell 5.1 and PowerShell 7.

# ===== ssm-documents/src/module/Common.ps1 =====
# Shared by every concern: typed errors with a stable code, JSON that behaves the same on 5.1 and 7, hashing.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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

# ===== ssm-documents/src/module/Secret.ps1 =====
# The account password: read on the beacon, masked in every text that leaves it, SigV4 for the REST fallback.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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

# A secret holds the password itself or a JSON object with a "password" field. A parse error never gets
# out: on 5.1 its message quotes the whole input, the password included.
function Select-BpPassword([string]$Value) {
    if ($Value -and $Value.TrimStart().StartsWith('{')) {
        $data = $null
        try { $data = ConvertFrom-BpJson $Value } catch { $data = $null }
        if ($data -is [System.Collections.IDictionary]) {
            foreach ($key in @('password', 'Password')) { if ($data.Contains($key) -and $data[$key] -is [string]) { return [string]$data[$key] } }
        }
        throw (New-BpError 'SECRET_FORMAT' 'the secret starts with { but is not a JSON object with a "password" string; store the password alone or as {"password": "..."}')
    }
    return $Value
}

# Texts masked in every line that leaves the beacon: each raw secret as read (before any parsing) and
# each password taken from one.
$script:BpSecretTexts = New-Object System.Collections.ArrayList
$script:BpPassword = $null
$script:BpSecretVersion = $null
$script:BpCredentialRotated = $false
# The account the service or tasks ran as before (a password account named by the request) and its password.
$script:BpPreviousAccount = $null
$script:BpPreviousPassword = $null

function Add-BpSecretText([string]$Text) {
    if ($Text -and -not $script:BpSecretTexts.Contains($Text)) { [void]$script:BpSecretTexts.Add($Text) }
}

# Reads a password through the layer: { value, version }. Errors carry our own text only: a layer error
# with a code keeps its (fixed) message, anything else becomes a fixed message, never the inner one.
function Read-BpPassword([string]$Reference) {
    $secret = $null
    try { $secret = Get-BpSecret $Reference }
    catch {
        if ($_.Exception.Data.Contains('BpCode')) { throw (New-BpError ([string]$_.Exception.Data['BpCode']) ([string]$_.Exception.Message)) }
        throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $Reference + ' could not be read with the instance role; check that the secret exists and the role may read it'))
    }
    if ($null -eq $secret -or -not $secret.value) { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $Reference + ' is empty')) }
    Add-BpSecretText ([string]$secret.value)
    $password = Select-BpPassword ([string]$secret.value)
    if (-not $password) { throw (New-BpError 'SECRET_NOT_FOUND' ('the password ' + $Reference + ' is empty')) }
    Add-BpSecretText $password
    return [ordered]@{ password = $password; version = [string]$secret.version }
}

function Get-BpSecretValue($State) {
    if ($State.account.kind -eq 'gmsa' -or -not $State.account.passwordRef) { return $null }
    $secret = Read-BpPassword $State.account.passwordRef
    $script:BpSecretVersion = $secret.version
    if (-not $script:BpSecretVersion) { $script:BpSecretVersion = 'unversioned' }
    return $secret.password
}

function Protect-BpText([string]$Text) {
    if (-not $Text) { return $Text }
    foreach ($secret in @($script:BpSecretTexts) + @($script:BpPassword, $script:BpPreviousPassword)) {
        if (-not $secret) { continue }
        $escaped = (ConvertTo-Json -InputObject ([string]$secret) -Compress).Trim('"')
        $Text = $Text.Replace([string]$secret, '********').Replace($escaped, '********')
    }
    return $Text
}

# A proxy address read from a beacon may carry a user name and password (`http://user:pass@host:port`,
# `http=user:pass@host:port`) that FlexNet never needed: shown values never carry them. In a URL everything
# between `://` and the last `@` before the path goes; in a WinINet entry everything up to its `@`. Call it
# after Protect-BpText, so a known password is masked whole before any part of it is cut.
function Hide-BpUserInfo([string]$Text) {
    if (-not $Text -or $Text.IndexOf('@') -lt 0) { return $Text }
    $Text = $Text -replace '([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@', '$1***@'
    return ($Text -replace '(^|[\s=;,])[^\s/@;=,*]+@(?=[A-Za-z0-9\[])', '$1***@')
}

# ===== ssm-documents/src/module/Plan.ps1 =====
# The plan: the entries a desired state touches, in order, and the dispatch of Get / Test / Set to their concern.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

# Keys, group and service facts come from $script:BpFacts (rendered into the document from lambdas/core).

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
        $entries += New-BpEntry 'group:Administrators' 'group' $true @{ sid = $Sid; group = $script:BpFacts.administratorsSid }
    }
    foreach ($value in @($State.registry)) {
        $desired = $null
        if ($null -ne $value.value) { $desired = [ordered]@{ type = $value.type; data = $value.value } }
        $entries += New-BpEntry ('registry:' + $value.path + '\' + $value.name) 'registry' $desired @{ path = 'HKLM\' + $Root + '\' + $value.path; name = $value.name }
    }
    if ($State.wininet.scope -eq 'machine') {
        $entries += New-BpEntry 'wininet:ProxySettingsPerUser' 'registry' ([ordered]@{ type = 'DWord'; data = 0 }) @{ path = $script:BpFacts.wininetPolicyKey; name = 'ProxySettingsPerUser' }
    } else {
        $entries += New-BpEntry 'profile' 'profile' $true @{ sid = $Sid; name = $Names.ntName }
    }
    foreach ($view in @(Get-BpWininetPaths $State $Sid)) { $entries += New-BpWininetEntries $State $view }
    # The secret version applied (no password): a rotated secret re-sets the service and task logons below.
    if ($script:BpSecretVersion) {
        $entries += New-BpEntry 'credential' 'registry' ([ordered]@{ type = 'String'; data = ($Names.ntName + '|' + $State.account.passwordRef + '|' + $script:BpSecretVersion) }) @{ path = $script:BpFacts.stateKey; name = 'AppliedCredential'; credential = $true }
    }
    $entries += New-BpEntry 'service:logon' 'serviceLogon' $Names.serviceName @{ service = $Service.name }
    foreach ($task in @($Tasks)) {
        $entries += New-BpEntry ('task:' + $task.name) 'task' ([ordered]@{ userId = $Names.ntName; logonType = 'Password'; runLevel = 'Highest' }) @{ taskPath = $task.path; taskName = $task.name }
    }
    return , $entries
}

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
        'serviceLogon' { return ((-not $Exact -and $script:BpCredentialRotated) -eq $false -and (Test-BpSameAccount $Actual $Expected)) }
        'task' { return ((-not $Exact -and $script:BpCredentialRotated) -eq $false -and (Test-BpTaskEntry $Entry $Actual $Expected $Exact)) }
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
# A proxy address read from the beacon never shows user info (Hide-BpUserInfo).
function Format-BpEntryValue($Entry, $Value) {
    if ($null -eq $Value) { return $null }
    switch ($Entry.concern) {
        'registry' { if ($Value.data -is [string]) { return Hide-BpUserInfo (Protect-BpText $Value.data) } return $Value.data }
        'blob' {
            if ($Value -is [string]) { $Value = Format-BpBlob $Value }
            if ($Value -is [System.Collections.IDictionary]) {
                $shown = [ordered]@{}
                foreach ($key in $Value.Keys) { if ($Value[$key] -is [string]) { $shown[$key] = Hide-BpUserInfo (Protect-BpText $Value[$key]) } else { $shown[$key] = $Value[$key] } }
                return $shown
            }
            return $Value
        }
        'task' { return ([string]$Value.userId + ' (' + [string]$Value.logonType + ')') }
    }
    return $Value
}

# The value as people read it in a diff (before / after): registry type and data, the WinINet blob decoded,
# an account as DOMAIN\name, a right, membership, profile or local account as present / absent, a task's
# user and run level. Never a password: the credential entry reads `updated`, and user info in a proxy
# address is hidden. $Role: 'before', 'after' (what a run writes) or 'restored' (what a rollback puts back).
function Format-BpDiffValue($Entry, $Value, [string]$Role) {
    $text = $null
    if ($Entry.Contains('credential')) { $text = Format-BpCredentialValue $Value $Role }
    else {
        switch ($Entry.concern) {
            'registry' { $text = Format-BpRegistryValue $Value }
            'blob' { $text = Format-BpBlobValue $Value }
            'serviceLogon' { $text = Format-BpAccountName $Value }
            'task' { $text = Format-BpTaskValue $Value }
            default { if ($Value) { $text = 'present' } else { $text = 'absent' } }
        }
    }
    return Hide-BpUserInfo (Protect-BpText ([string]$text))
}

# The applied credential (account, secret reference and version; never the password) reads as a state only.
function Format-BpCredentialValue($Value, [string]$Role) {
    if ($Role -eq 'after') { return 'updated' }
    if ($null -eq $Value) { return 'none' }
    if ($Role -eq 'restored') { return 'previous secret version' }
    return 'set'
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

# Sets each entry that differs, and notes the change: its id, and its value before and as read back after.
function Invoke-BpApply($Entries, $Changed, $Diff) {
    Invoke-BpEntries $Entries {
        param($entry)
        $script:BpStep = 'apply:' + $entry.id
        $current = Get-BpEntry $entry
        if (-not (Test-BpEntry $entry $current $entry.desired $false)) {
            Set-BpEntry $entry $entry.desired $false
            [void]$Changed.Add($entry.id)
            Add-BpDiff $Diff $entry $current (Get-BpEntry $entry) 'after'
            # A new secret version (or a first one): the logons that hold the password are set again.
            if ($entry.Contains('credential')) { $script:BpCredentialRotated = $true }
        }
    }
}

# What a run would write for an entry (a plan's "after"): the desired value; for a connection blob, the
# blob built from the current one as a run builds it (auto-detect kept).
function Get-BpPlannedValue($Entry, $Current) {
    if ($Entry.concern -ne 'blob' -or $null -eq $Entry.desired) { return $Entry.desired }
    $decoded = $null
    if ($null -ne $Current) { try { $decoded = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Current)) } catch { $decoded = $null } }
    return (New-BpConnectionSettings $decoded $Entry.desired)
}

# Reads every entry back from the system and compares it with the desired state. With $Diff (a plan), each
# entry that differs is listed with its current value and the value a run would write.
function Get-BpChecks($Entries, $Checks, $Diff) {
    Invoke-BpEntries $Entries {
        param($entry)
        $actual = Get-BpEntry $entry
        $ok = Test-BpEntry $entry $actual $entry.desired $false
        [void]$Checks.Add((New-BpCheck $entry.id (Format-BpEntryValue $entry $entry.desired) (Format-BpEntryValue $entry $actual) $ok))
        if (-not $ok) { Add-BpDiff $Diff $entry $actual (Get-BpPlannedValue $entry $actual) 'planned' }
    }
}

# ===== ssm-documents/src/module/Registry.ps1 =====
# Concern: registry values (a null desired value means: ensure absent).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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

$script:BpRegistryTypeNames = @{ String = 'REG_SZ'; ExpandString = 'REG_EXPAND_SZ'; MultiString = 'REG_MULTI_SZ'; DWord = 'REG_DWORD'; QWord = 'REG_QWORD'; Binary = 'REG_BINARY' }

# A registry value for people: `REG_SZ https://proxy:8080`, `REG_DWORD 1`, or `absent`.
function Format-BpRegistryValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    $type = [string]$Value.type
    $name = $type
    if ($script:BpRegistryTypeNames.ContainsKey($type)) { $name = $script:BpRegistryTypeNames[$type] }
    $data = $Value.data
    if ($type -eq 'MultiString') { return $name + ' ' + (@($data) -join ' | ') }
    if ($type -eq 'Binary') {
        $length = 0
        try { $length = ([System.Convert]::FromBase64String([string]$data)).Length } catch { $length = ([string]$data).Length }
        return $name + ' (' + $length + ' bytes)'
    }
    return $name + ' ' + [string]$data
}

# ===== ssm-documents/src/module/Wininet.ps1 =====
# Concern: WinINet proxy settings of the account (or the machine): the DefaultConnectionSettings codec and entry.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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
    # A decoded blob keeps its tail as it was (even none); a new one gets the 32 zero bytes writers use.
    if ($Settings.Contains('tail') -and $null -ne $Settings.tail) { $writer.Write([System.Convert]::FromBase64String([string]$Settings.tail)) } else { $writer.Write((New-Object byte[] 32)) }
    $writer.Flush()
    return , $stream.ToArray()
}

# The blob WinINet should hold: proxy on, direct kept, no auto-config URL, auto-detect as it was (on for a
# new blob, as Windows creates a connection), counter + 1.
function New-BpConnectionSettings($Current, $Desired) {
    $version = $script:BpBlobVersion
    $counter = [uint32]1
    $autoDetect = $script:BpBlobFlags.AutoDetect
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

# The Internet Settings keys a desired state writes: the account's hive, or in machine scope the 64-bit key
# and, on 64-bit Windows, its WOW6432Node view (the 32-bit beacon reads that one).
function Get-BpWininetPaths($State, [string]$Sid) {
    if ($State.wininet.scope -eq 'machine') {
        $keys = @($script:BpFacts.wininetMachineKeys)
        $views = @([ordered]@{ prefix = 'wininet'; settings = $keys[0]; hive = $null })
        if (Test-BpRegistryKey 'HKLM\SOFTWARE\WOW6432Node') { $views += [ordered]@{ prefix = 'wininet32'; settings = $keys[1]; hive = $null } }
        return $views
    }
    return [ordered]@{ prefix = 'wininet'; settings = 'HKU\' + $Sid + '\' + $script:BpFacts.wininetUserKey; hive = $Sid }
}

# The WinINet entries of one Internet Settings key: the plain values and both connection blobs, in agreement.
function New-BpWininetEntries($State, $View) {
    $bypass = @($State.wininet.bypass) -join ';'
    $override = $null
    if ($bypass) { $override = [ordered]@{ type = 'String'; data = $bypass } }
    $blob = [ordered]@{ proxyServer = $State.wininet.proxyServer; bypass = $bypass; autoConfigUrl = '' }
    $prefix = $View.prefix + ':'
    $entries = @(
        (New-BpEntry ($prefix + 'ProxyEnable') 'registry' ([ordered]@{ type = 'DWord'; data = 1 }) @{ path = $View.settings; name = 'ProxyEnable' }),
        (New-BpEntry ($prefix + 'ProxyServer') 'registry' ([ordered]@{ type = 'String'; data = $State.wininet.proxyServer }) @{ path = $View.settings; name = 'ProxyServer' }),
        (New-BpEntry ($prefix + 'ProxyOverride') 'registry' $override @{ path = $View.settings; name = 'ProxyOverride' }),
        (New-BpEntry ($prefix + 'AutoConfigURL') 'registry' $null @{ path = $View.settings; name = 'AutoConfigURL' }),
        (New-BpEntry ($prefix + 'DefaultConnectionSettings') 'blob' $blob @{ path = $View.settings + '\Connections'; name = 'DefaultConnectionSettings' }),
        (New-BpEntry ($prefix + 'SavedLegacySettings') 'blob' $blob @{ path = $View.settings + '\Connections'; name = 'SavedLegacySettings' })
    )
    foreach ($entry in $entries) { $entry.hive = $View.hive }
    return , $entries
}

function Get-BpBlobEntry($Entry) {
    $value = Get-BpRegistryValue $Entry.path $Entry.name
    if ($null -eq $value) { return $null }
    return $value.data
}

# $Exact (rollback): the captured blob, counter aside (a restore writes counter + 1 so WinINet sees it).
function Test-BpBlobEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Actual)) } catch { return ($Exact -and [string]$Actual -ceq [string]$Expected) }
    if ($Exact) {
        try { $captured = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Expected)) } catch { return ([string]$Actual -ceq [string]$Expected) }
        foreach ($field in @('version', 'flags', 'proxyServer', 'bypass', 'autoConfigUrl', 'tail')) { if ([string]$blob[$field] -cne [string]$captured[$field]) { return $false } }
        return $true
    }
    $mask = $script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy -bor $script:BpBlobFlags.AutoProxyUrl
    return ($blob.version -ge $script:BpBlobMinVersion -and ($blob.flags -band $mask) -eq ($script:BpBlobFlags.Direct -bor $script:BpBlobFlags.Proxy) -and
        $blob.proxyServer -ceq $Expected.proxyServer -and $blob.bypass -ceq $Expected.bypass -and $blob.autoConfigUrl -ceq '')
}

function Set-BpBlobEntry($Entry, $Value, [bool]$Restore) {
    if ($null -eq $Value) { Remove-BpRegistryValue $Entry.path $Entry.name; return }
    $current = $null
    $raw = Get-BpBlobEntry $Entry
    if ($null -ne $raw) { try { $current = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($raw)) } catch { $current = $null } }
    if ($Restore) {
        # The captured settings with counter = current + 1: WinINet notices a change by the counter.
        $bytes = [System.Convert]::FromBase64String([string]$Value)
        try {
            $captured = ConvertFrom-BpConnectionBlob $bytes
            $captured.counter = [uint32]1
            if ($null -ne $current) { $captured.counter = [uint32](([long]$current.counter + 1) % 4294967296) }
            $bytes = ConvertTo-BpConnectionBlob $captured
        } catch { }
        Set-BpRegistryValue $Entry.path $Entry.name 'Binary' ([System.Convert]::ToBase64String($bytes))
        return
    }
    $bytes = ConvertTo-BpConnectionBlob (New-BpConnectionSettings $current $Value)
    Set-BpRegistryValue $Entry.path $Entry.name 'Binary' ([System.Convert]::ToBase64String($bytes))
}

function Format-BpBlob($Raw) {
    if ($null -eq $Raw) { return $null }
    try { $blob = ConvertFrom-BpConnectionBlob ([System.Convert]::FromBase64String($Raw)) } catch { return 'invalid blob' }
    return [ordered]@{ flags = $blob.flags; proxyServer = $blob.proxyServer; bypass = $blob.bypass; autoConfigUrl = $blob.autoConfigUrl }
}

# Decoded connection settings for people: `flags direct+proxy+auto-detect, proxy p:8080, bypass a;<local>, auto-config URL none`.
function Format-BpConnectionSettings($Settings) {
    $flags = New-Object System.Collections.ArrayList
    foreach ($flag in @(@('Direct', 'direct'), @('Proxy', 'proxy'), @('AutoProxyUrl', 'auto-config'), @('AutoDetect', 'auto-detect'))) {
        if ([int]$Settings.flags -band $script:BpBlobFlags[$flag[0]]) { [void]$flags.Add($flag[1]) }
    }
    $flagText = 'none'
    if ($flags.Count -gt 0) { $flagText = $flags -join '+' }
    $show = { param($text) if ($text) { [string]$text } else { 'none' } }
    return ('flags ' + $flagText + ', proxy ' + (& $show $Settings.proxyServer) + ', bypass ' + (& $show $Settings.bypass) + ', auto-config URL ' + (& $show $Settings.autoConfigUrl))
}

# A blob as read (base64), or the settings a run writes, for people; `absent` when there is none.
function Format-BpBlobValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    if ($Value -is [string]) {
        $bytes = $null
        try { $bytes = [System.Convert]::FromBase64String($Value) } catch { return 'invalid blob' }
        try { return Format-BpConnectionSettings (ConvertFrom-BpConnectionBlob $bytes) } catch { return ('invalid blob (' + $bytes.Length + ' bytes)') }
    }
    return Format-BpConnectionSettings $Value
}

# ===== ssm-documents/src/module/Account.ps1 =====
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

# ===== ssm-documents/src/module/Rights.ps1 =====
# Concern: user rights of the account (LSA).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpRightEntry($Entry) { return (@(Get-BpAccountRights $Entry.sid) -contains $Entry.right) }

function Set-BpRightEntry($Entry, $Value) {
    if ($Value) { Add-BpAccountRight $Entry.sid $Entry.right } else { Remove-BpAccountRight $Entry.sid $Entry.right }
}

# ===== ssm-documents/src/module/Group.ps1 =====
# Concern: membership of the local Administrators group.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpGroupEntry($Entry) { return (@(Get-BpGroupMembers $Entry.group) -contains $Entry.sid) }

function Set-BpGroupEntry($Entry, $Value) {
    if ($Value) { Add-BpGroupMember $Entry.group $Entry.sid } else { Remove-BpGroupMember $Entry.group $Entry.sid }
}

# ===== ssm-documents/src/module/Profile.ps1 =====
# Concern: the user profile of the account and its registry hive (loaded for the WinINet settings when needed).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpProfileEntry($Entry) { return ($null -ne (Get-BpProfile $Entry.sid)) }

function Set-BpProfileEntry($Entry, $Value) {
    if ($Value) { New-BpProfile $Entry.sid $Entry.name; return }
    # Windows unloads the hive of an account a little after its last process (the service) stopped, and
    # DeleteProfile fails while it is loaded: wait for the unload (bounded), then retry the delete.
    $lastError = $null
    for ($attempt = 1; $attempt -le 3; $attempt++) {
        [void](Wait-BpHiveUnloaded $Entry.sid 30)
        try { Remove-BpProfile $Entry.sid; return } catch { $lastError = $_.Exception.Message; Wait-BpInterval 2 }
    }
    throw (New-BpError 'PROFILE_DELETE_FAILED' ('could not delete the profile of ' + $Entry.sid + ': ' + $lastError))
}

# Waits (at most $TimeoutSeconds) until HKU\<SID> is no longer loaded; returns whether it is unloaded.
function Wait-BpHiveUnloaded([string]$Sid, [int]$TimeoutSeconds) {
    for ($waited = 0; $waited -lt $TimeoutSeconds; $waited++) {
        $userProfile = Get-BpProfile $Sid
        if ($null -eq $userProfile -or -not $userProfile.loaded) { return $true }
        Wait-BpInterval 1
    }
    return $false
}

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

# ===== ssm-documents/src/module/Service.ps1 =====
# Concern: the logon of the FlexNet Beacon Engine service, its restart and the bounded waits for its state.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpServiceLogonEntry($Entry) {
    $service = Get-BpService $Entry.service
    if ($null -eq $service) { return $null }
    return $service.startName
}

function Set-BpServiceLogonEntry($Entry, $Value, [bool]$Restore) {
    $password = ''
    if (-not $Restore) { if ($null -ne $script:BpPassword) { $password = $script:BpPassword } }
    else { $password = Get-BpPreviousPassword $Value }
    Set-BpServiceLogon $Entry.service $Value $password
}

# The Win32 error inside an exception chain ("Cannot start service" says nothing; 1069 or 1053 does).
function Get-BpWin32Reason($Exception) {
    $current = $Exception
    while ($null -ne $current) {
        if ($current -is [System.ComponentModel.Win32Exception]) { return ('Win32 error ' + $current.NativeErrorCode + ': ' + $current.Message) }
        $current = $current.InnerException
    }
    return $Exception.Message
}

# Polls until the service reaches $Wanted, at most $TimeoutSeconds (counted in waits, so a clock that only
# moves while waiting still ends it). A service that falls back to Stopped while starting fails at once.
function Wait-BpServiceState([string]$Name, [string]$Wanted, [int]$TimeoutSeconds, [string]$Code) {
    $waited = 0
    while ($true) {
        $service = Get-BpService $Name
        if ($null -eq $service) { throw (New-BpError 'SERVICE_NOT_FOUND' ('the service ' + $Name + ' disappeared')) }
        if ($service.state -eq $Wanted) { return }
        if ($Wanted -eq 'Running' -and $service.state -eq 'Stopped') {
            throw (New-BpError $Code ('the service ' + $Name + ' stopped again while starting' + (Get-BpServiceExitReason $Name)))
        }
        if ($waited -ge $TimeoutSeconds) {
            throw (New-BpError $Code ('the service ' + $Name + ' did not reach ' + $Wanted + ' within ' + $TimeoutSeconds + ' s (state: ' + $service.state + ')'))
        }
        Wait-BpInterval 1
        $waited += 1
    }
}

function Get-BpServiceExitReason([string]$Name) {
    $service = Get-BpService $Name
    if ($null -ne $service -and $service.Contains('exitCode') -and $service.exitCode) { return (' (Win32 error ' + $service.exitCode + ')') }
    return ''
}

# Stop (bounded), start, wait until Running (bounded). Stop-Service / Start-Service would wait forever on a
# service hung in a Pending state; the layer only asks, the module waits.
function Restart-BpServiceAndWait([string]$Name, [int]$TimeoutSeconds) {
    $service = Get-BpService $Name
    if ($service.state -ne 'Stopped') {
        if ($service.state -ne 'Stop Pending') {
            try { Request-BpServiceStop $Name } catch { throw (New-BpError 'SERVICE_STOP_FAILED' ('the service ' + $Name + ' did not accept the stop request: ' + (Get-BpWin32Reason $_.Exception))) }
        }
        Wait-BpServiceState $Name 'Stopped' $TimeoutSeconds 'SERVICE_STOP_TIMEOUT'
    }
    try { Request-BpServiceStart $Name } catch { throw (New-BpError 'SERVICE_START_FAILED' ('the service ' + $Name + ' did not start: ' + (Get-BpWin32Reason $_.Exception))) }
    Wait-BpServiceState $Name 'Running' $TimeoutSeconds 'SERVICE_START_FAILED'
}

# ===== ssm-documents/src/module/Tasks.ps1 =====
# Concern: the principals of the upload scheduled tasks (required by name or alias, optional when present).
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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

# The task scheduler may give the principal as a SID or as DOMAIN\name: report (and capture) the name.
function Get-BpTaskEntry($Entry) {
    foreach ($task in @(Find-BpTask $Entry.taskName)) {
        if ($task.path -eq $Entry.taskPath) {
            $userId = $task.userId
            if ($userId -match '^S-1-\d') { $account = Resolve-BpAccount $userId; if ($null -ne $account) { $userId = $account.name } }
            return [ordered]@{ userId = $userId; logonType = $task.logonType; runLevel = $task.runLevel }
        }
    }
    return $null
}

function Test-BpTaskEntry($Entry, $Actual, $Expected, [bool]$Exact) {
    if ($null -eq $Expected -or $null -eq $Actual) { return ($null -eq $Expected -and $null -eq $Actual) }
    if ($Actual.logonType -ne $Expected.logonType) { return $false }
    if ($Expected.Contains('runLevel') -and $Expected.runLevel -and $Actual.runLevel -ne $Expected.runLevel) { return $false }
    return (Test-BpSameAccount $Actual.userId $Expected.userId)
}

# The account is an administrator, so the tasks run with the highest privileges (a Limited token would
# strip its administrator rights). A restore puts back the captured principal, with the previous
# account's password when the request named its secret.
function Set-BpTaskEntry($Entry, $Value, [bool]$Restore) {
    $runLevel = 'Highest'
    if ($Value.Contains('runLevel') -and $Value.runLevel) { $runLevel = $Value.runLevel }
    $password = $null
    if (-not $Restore) { $password = $script:BpPassword }
    elseif ($Value.logonType -eq 'Password') { $password = Get-BpPreviousPassword $Value.userId }
    Set-BpTaskPrincipal $Entry.taskPath $Entry.taskName $Value.userId $Value.logonType $runLevel $password
}

# A task's principal for people: `CORP\svc-beacon (Password, run level Highest)`, or `absent`.
function Format-BpTaskValue($Value) {
    if ($null -eq $Value) { return 'absent' }
    $text = (Format-BpAccountName ([string]$Value.userId)) + ' (' + [string]$Value.logonType
    if ($Value.Contains('runLevel') -and $Value.runLevel) { $text += ', run level ' + [string]$Value.runLevel }
    return $text + ')'
}

# ===== ssm-documents/src/module/Capture.ps1 =====
# Capture before any change, restore on failure or on the Rollback document.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function Get-BpCapturePath([string]$Id) {
    return (Join-Path (Get-BpCaptureDirectory) ($Id + '.json'))
}

# The capture folder gets a protected DACL (SYSTEM and Administrators only): %ProgramData% lets Users
# create files, and the Rollback document trusts what it reads there as SYSTEM.
function Save-BpCapture($Capture) {
    if (-not $Capture.persist) { return }
    Initialize-BpCaptureDirectory (Get-BpCaptureDirectory)
    $copy = [ordered]@{}
    foreach ($key in $Capture.Keys) { if ($key -ne 'persist') { $copy[$key] = $Capture[$key] } }
    Write-BpProtectedFile (Get-BpCapturePath $Capture.captureId) (ConvertTo-BpJson $copy)
}

function Test-BpCaptureExists([string]$Id) {
    $path = Get-BpCapturePath $Id
    return ((Test-Path -LiteralPath $path) -and $null -eq (Test-BpProtectedFile $path))
}

function Read-BpCapture([string]$Id) {
    $path = Get-BpCapturePath $Id
    if (-not (Test-Path -LiteralPath $path)) { throw (New-BpError 'CAPTURE_NOT_FOUND' ('no capture ' + $Id + ' on this beacon (' + $path + ')')) }
    $untrusted = Test-BpProtectedFile $path
    if ($untrusted) { throw (New-BpError 'CAPTURE_UNTRUSTED' ('the capture ' + $Id + ' was not written by beacon-proxy as SYSTEM (' + $untrusted + '); nothing was restored')) }
    try { $capture = ConvertFrom-BpJson ([System.IO.File]::ReadAllText($path)) } catch { $capture = $null }
    if ($null -eq $capture -or -not ($capture -is [System.Collections.IDictionary]) -or $capture.schema -ne 1 -or $capture.captureId -ne $Id) {
        throw (New-BpError 'CAPTURE_INVALID' ('the capture ' + $Id + ' is not a capture of this version; nothing was restored'))
    }
    Assert-BpCaptureAllowed $capture
    return $capture
}

function Test-BpUnderKey([string]$Path, [string]$Prefix) {
    return ($Path -ieq $Prefix -or $Path.StartsWith($Prefix + '\', [System.StringComparison]::OrdinalIgnoreCase))
}

# Every entry a restore would write must be one a configure run writes: registry values only under the
# FlexNet roots, the WinINet keys, the policy key and this tool's own key; the Administrators group; the
# beacon service; the beacon's tasks; the rights a request grants. Anything else refuses the whole capture.
function Assert-BpCaptureAllowed($Capture) {
    $allowed = $script:BpFacts
    $refuse = { param($why) throw (New-BpError 'CAPTURE_REFUSED' ('the capture ' + $Capture.captureId + ' holds ' + $why + ', which no configure run writes; nothing was restored')) }
    $service = $null
    if ($Capture.Contains('service') -and $null -ne $Capture.service) { $service = $Capture.service }
    if ($null -ne $service) {
        $found = Get-BpService $service.name
        if ($null -eq $found -or $found.displayName -ne $allowed.serviceDisplayName) { & $refuse ('the service ' + $service.name) }
    }
    # The configured account: the one the rights of the capture are for. A profile may only be its own.
    $accountSids = @(@($Capture.entries) | Where-Object { $_.concern -eq 'right' } | ForEach-Object { [string]$_.sid })
    foreach ($entry in @($Capture.entries)) {
        $id = [string]$entry.id
        switch ([string]$entry.concern) {
            { $_ -eq 'registry' -or $_ -eq 'blob' } {
                $ok = $false
                foreach ($prefix in @($allowed.rollbackRegistryKeys)) { if (Test-BpUnderKey ([string]$entry.path) $prefix) { $ok = $true } }
                if ([string]$entry.path -match '^HKU\\S-1-[0-9-]+\\(.+)$' -and (Test-BpUnderKey $Matches[1] $allowed.wininetUserKey)) { $ok = $true }
                if ($entry.Contains('createdFrom') -and $entry.createdFrom -and -not (Test-BpUnderKey ([string]$entry.path) ([string]$entry.createdFrom))) { $ok = $false }
                if (-not $ok) { & $refuse ('the registry value ' + $entry.path + '\' + $entry.name) }
            }
            'group' { if ($entry.group -ne $script:BpFacts.administratorsSid) { & $refuse ('the group ' + $entry.group) } }
            'right' { if (@($allowed.rights) -notcontains $entry.right) { & $refuse ('the right ' + $entry.right) } }
            'serviceLogon' { if ($null -eq $service -or $entry.service -ne $service.name) { & $refuse ('the logon of the service ' + $entry.service) } }
            'task' { if (@($allowed.tasks) -notcontains $entry.taskName) { & $refuse ('the task ' + $entry.taskName) } }
            'account' { if ($entry.before -or [string]$entry.name -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$') { & $refuse ('the account ' + $entry.name) } }
            'profile' { if ($accountSids -notcontains [string]$entry.sid) { & $refuse ('the profile of ' + $entry.sid) } }
            default { & $refuse ('the entry ' + $id) }
        }
    }
}

# The highest key on the way to $Path that does not exist yet (what CreateSubKey will create), or $null.
function Get-BpMissingKeyRoot([string]$Path) {
    $top = $null
    $current = $Path
    while ($current -and -not (Test-BpRegistryKey $current)) {
        $top = $current
        $cut = $current.LastIndexOf('\')
        if ($cut -le 0) { break }
        $current = $current.Substring(0, $cut)
        if ($current -notmatch '\\.+\\') { break }
    }
    return $top
}

# Removes the keys a run created for $Entry, leaf first, as long as they are empty.
function Remove-BpCreatedKeys($Entry) {
    if (-not $Entry.Contains('createdFrom') -or -not $Entry.createdFrom) { return }
    $current = [string]$Entry.path
    while ($current.Length -ge ([string]$Entry.createdFrom).Length) {
        Remove-BpRegistryKeyIfEmpty $current
        if (Test-BpRegistryKey $current) { return }
        $cut = $current.LastIndexOf('\')
        if ($cut -le 0) { return }
        $current = $current.Substring(0, $cut)
    }
}

# Records the current value of each entry before anything changes. The first capture of a request id is
# kept on disk (it is the state before the request); a re-run keeps its own capture in memory.
function Add-BpCaptureEntries($Capture, $Entries) {
    Invoke-BpEntries $Entries {
        param($entry)
        $entry.before = Get-BpEntry $entry
        if ($entry.concern -eq 'registry' -or $entry.concern -eq 'blob') { $entry.createdFrom = Get-BpMissingKeyRoot $entry.path }
        [void]$Capture.entries.Add($entry)
    }
    Save-BpCapture $Capture
}

# Puts every captured entry back as it was, newest first, and lists each value it put back (before -> after). The service is restarted as soon as its logon is
# back (so it lets go of the account's profile before that is touched), or at the end if it is not running.
function Restore-BpCapture($Capture, $Checks) {
    $restored = New-Object System.Collections.ArrayList
    $diff = New-Object System.Collections.ArrayList
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
                    Add-BpDiff $diff $entry $current (Get-BpEntry $entry) 'restored'
                }
                # Keys this run created go too (parents included), once their last value is gone.
                Remove-BpCreatedKeys $entry
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
    return [ordered]@{ attempted = $true; ok = ($failures.Count -eq 0); restored = $restored.ToArray(); error = $message; diff = $diff }
}

# ===== ssm-documents/src/module/Probe.ps1 =====
# The endpoint probe: one request to FNMS through the proxy the desired state configures, picked by the
# URL's scheme from the WinINet ProxyServer (host:port, or http=...;https=... per protocol).
# Runs on Windows PowerShell 5.1 and PowerShell 7 (HttpWebRequest exists on both).

function Select-BpProxyForUrl([string]$ProxyServer, [string]$Url) {
    $scheme = ([System.Uri]$Url).Scheme.ToLowerInvariant()
    $plain = $null
    foreach ($part in @($ProxyServer -split ';')) {
        $item = $part.Trim()
        if (-not $item) { continue }
        if ($item -match '^([A-Za-z]+)=(.+)$') { if ($Matches[1].ToLowerInvariant() -eq $scheme) { return $Matches[2] } }
        elseif ($null -eq $plain) { $plain = $item }
    }
    return $plain
}

function Invoke-BpEndpointProbe([string]$Url, [string]$ProxyServer) {
    $hostPort = Select-BpProxyForUrl $ProxyServer $Url
    if (-not $hostPort) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = ('no proxy for ' + ([System.Uri]$Url).Scheme); proxy = $ProxyServer } }
    $address = Get-BpProxyEndpoint $hostPort
    $response = $null
    try {
        $request = [System.Net.WebRequest]::Create($Url)
        $request.Method = 'GET'
        $request.Timeout = 20000
        $request.Proxy = New-Object System.Net.WebProxy(('http://' + $address), $false)
        $response = $request.GetResponse()
        return [ordered]@{ ok = $true; status = [int]$response.StatusCode; proxy = $hostPort }
    } catch {
        # An HTTP error status from FNMS still proves the path through the proxy works. No answer at all does
        # not, nor does the proxy's own refusal (407) or its 502/503/504 (it could not reach FNMS).
        $exception = $_.Exception
        while ($null -ne $exception -and -not ($exception -is [System.Net.WebException])) { $exception = $exception.InnerException }
        if ($null -ne $exception -and $null -ne $exception.Response) {
            $status = [int]$exception.Response.StatusCode
            $exception.Response.Close()
            if ($status -eq 407) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = 'the proxy refused the beacon (407)'; proxy = $hostPort } }
            if ($status -ge 500) { return [ordered]@{ ok = $false; status = 'unreachable'; detail = ('HTTP ' + $status); proxy = $hostPort } }
            return [ordered]@{ ok = $true; status = $status; proxy = $hostPort }
        }
        return [ordered]@{ ok = $false; status = 'unreachable'; detail = 'no answer through the proxy'; proxy = $hostPort }
    } finally { if ($null -ne $response) { $response.Close() } }
}

# ===== ssm-documents/src/module/Lock.ps1 =====
# The document lock: configure, verify and rollback take one named mutex for the whole time they read or
# change the box, so two documents never interleave on a beacon even when the SSM Agent runs them at once.
# Name, wait and busy code come from lambdas/core/document-contract.ts (DOCUMENT_LOCK, rendered into the
# document as $script:BpFacts.lock); the wait stays below every document's execution timeout.
# Runs on Windows PowerShell 5.1 and PowerShell 7.

function Enter-BpDocumentLock($Result) {
    $lock = Get-BpDocumentLock $script:BpFacts.lock
    $mutex = New-Object System.Threading.Mutex($false, [string]$lock.name)
    $taken = $false
    try { $taken = $mutex.WaitOne([TimeSpan]::FromSeconds([int]$lock.waitSeconds)) }
    catch [System.Threading.AbandonedMutexException] {
        # The previous holder ended without releasing (killed mid-run): the mutex is ours now. Whatever it
        # left half done is what this run reads; configure captures and verifies it like any other state.
        $taken = $true
        [void]$Result.warnings.Add('DOCUMENT_LOCK_ABANDONED: the previous document on this beacon ended without releasing ' + $lock.name + '; this run took it over')
    }
    if (-not $taken) {
        $mutex.Dispose()
        throw (New-BpError $script:BpFacts.lock.busyCode ('another beacon-proxy document held ' + $lock.name + ' for ' + $lock.waitSeconds + ' s; nothing was changed, send this document again later'))
    }
    return $mutex
}

function Exit-BpDocumentLock($Mutex) {
    try { $Mutex.ReleaseMutex() } finally { $Mutex.Dispose() }
}

# ===== ssm-documents/src/module/Result.ps1 =====
# The one JSON result line every document prints, its checks, its diff and its error.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

function New-BpCheck([string]$Name, $Expected, $Actual, [bool]$Ok) {
    return [ordered]@{ name = $Name; expected = $Expected; actual = $Actual; ok = $Ok }
}

function New-BpResult([string]$Kind) {
    return [ordered]@{
        ok = $false; document = $Kind; requestId = $null
        changed = (New-Object System.Collections.ArrayList); checks = (New-Object System.Collections.ArrayList)
        diff = (New-Object System.Collections.ArrayList)
        beaconVersion = $null; captureId = $null; error = $null; rollback = $null
        tasksFound = (New-Object System.Collections.ArrayList); warnings = (New-Object System.Collections.ArrayList)
    }
}

# One change for people: the entry's values before and after, rendered by its concern (Format-BpDiffValue).
function Add-BpDiffText($Diff, [string]$Id, [string]$Before, [string]$After) {
    if ($null -eq $Diff) { return }
    [void]$Diff.Add([ordered]@{ id = $Id; before = $Before; after = $After })
}

function Add-BpDiff($Diff, $Entry, $Before, $After, [string]$Role) {
    if ($null -eq $Diff) { return }
    $beforeText = Format-BpDiffValue $Entry $Before 'before'
    $afterText = Format-BpDiffValue $Entry $After $Role
    # A logon set again for a rotated secret reads the same before and after: say what changed.
    if ($beforeText -ceq $afterText -and $Role -eq 'after' -and $script:BpCredentialRotated) { $afterText = $afterText + ' (credential updated)' }
    Add-BpDiffText $Diff $Entry.id $beforeText $afterText
}

function Set-BpResultError($Result, $ErrorRecord) {
    $code = 'UNEXPECTED'
    if ($ErrorRecord.Exception.Data.Contains('BpCode')) { $code = [string]$ErrorRecord.Exception.Data['BpCode'] }
    else { [Console]::Error.WriteLine('beacon-proxy: unexpected error at ' + $ErrorRecord.InvocationInfo.PositionMessage + "`n" + $ErrorRecord.ScriptStackTrace) }
    $Result.error = [ordered]@{ code = $code; message = (Protect-BpText $ErrorRecord.Exception.Message); step = $script:BpStep }
}

# $Text cut to $Keep characters and the marker of the contract (`...[+N chars]`).
function Limit-BpText([string]$Text, [int]$Keep) {
    if ($null -eq $Text -or $Text.Length -le $Keep) { return $Text }
    return $Text.Substring(0, $Keep) + $script:BpFacts.result.trimBefore + ($Text.Length - $Keep) + $script:BpFacts.result.trimAfter
}

# A check value within $Keep characters: scalars stay as they are, a long text or structure becomes trimmed text.
function Limit-BpValue($Value, [int]$Keep) {
    if ($null -eq $Value -or $Value -is [bool] -or $Value -is [int] -or $Value -is [long] -or $Value -is [double]) { return $Value }
    if ($Value -is [string]) { return Limit-BpText $Value $Keep }
    $json = ConvertTo-BpJson $Value
    if ($json.Length -le $Keep) { return $Value }
    return Limit-BpText $json $Keep
}

function Get-BpValueLength($Value) {
    if ($null -eq $Value) { return 0 }
    if ($Value -is [string]) { return $Value.Length }
    return (ConvertTo-BpJson $Value).Length
}

function Limit-BpDiff($Diff, [int]$Keep) {
    $list = New-Object System.Collections.ArrayList
    foreach ($change in @($Diff)) { [void]$list.Add([ordered]@{ id = $change.id; before = (Limit-BpText $change.before $Keep); after = (Limit-BpText $change.after $Keep) }) }
    return , $list.ToArray()
}

# A copy of the result whose check values and diff values are cut to the caps; $FailedOnly keeps only the
# failed checks and says how many others were left out.
function New-BpFittedResult($Result, [int]$CheckCap, [int]$DiffCap, [bool]$FailedOnly) {
    $copy = [ordered]@{}
    foreach ($key in $Result.Keys) { $copy[$key] = $Result[$key] }
    $checks = @($Result.checks)
    if ($FailedOnly) {
        $failed = @($checks | Where-Object { -not $_.ok })
        $copy.checksOmitted = $checks.Count - $failed.Count
        $checks = $failed
    }
    $list = New-Object System.Collections.ArrayList
    foreach ($check in $checks) { [void]$list.Add((New-BpCheck $check.name (Limit-BpValue $check.expected $CheckCap) (Limit-BpValue $check.actual $CheckCap) $check.ok)) }
    $copy.checks = $list.ToArray()
    $copy.diff = Limit-BpDiff $Result.diff $DiffCap
    if ($null -ne $Result.rollback -and $Result.rollback.Contains('diff')) {
        $rollback = [ordered]@{}
        foreach ($key in $Result.rollback.Keys) { $rollback[$key] = $Result.rollback[$key] }
        $rollback.diff = Limit-BpDiff $Result.rollback.diff $DiffCap
        $copy.rollback = $rollback
    }
    return $copy
}

function Get-BpResultText($Result) { return Protect-BpText (ConvertTo-BpJson $Result) }

# The largest cap in [$Low, $High] for which $Build (a cap -> a line) fits $Max, or $null when $Low does not.
function Find-BpFittingLine([int]$Low, [int]$High, [int]$Max, [scriptblock]$Build) {
    $line = & $Build $Low
    if ($line.Length -gt $Max) { return $null }
    while ($Low -lt $High) {
        $middle = [int][Math]::Ceiling(($Low + $High) / 2)
        $candidate = & $Build $middle
        if ($candidate.Length -le $Max) { $Low = $middle; $line = $candidate } else { $High = $middle - 1 }
    }
    return $line
}

# The line within the budget of the contract: check values are trimmed first, then diff values (each keeps
# at least the minimum); only then are passing checks left out. A diff entry is never dropped.
function Get-BpFittedLine($Result) {
    $max = [int]$script:BpFacts.result.maxLength
    $min = [int]$script:BpFacts.result.minValueLength
    $longestCheck = $min
    foreach ($check in @($Result.checks)) { $longestCheck = [Math]::Max($longestCheck, [Math]::Max((Get-BpValueLength $check.expected), (Get-BpValueLength $check.actual))) }
    $longestDiff = $min
    $changes = @($Result.diff)
    if ($null -ne $Result.rollback -and $Result.rollback.Contains('diff')) { $changes += @($Result.rollback.diff) }
    foreach ($change in $changes) { $longestDiff = [Math]::Max($longestDiff, [Math]::Max(([string]$change.before).Length, ([string]$change.after).Length)) }

    $line = Find-BpFittingLine $min $longestCheck $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $cap $longestDiff $false) }
    if ($null -ne $line) { return $line }
    $line = Find-BpFittingLine $min $longestDiff $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $min $cap $false) }
    if ($null -ne $line) { return $line }
    $line = Find-BpFittingLine $min $longestDiff $max { param($cap) Get-BpResultText (New-BpFittedResult $Result $min $cap $true) }
    if ($null -ne $line) { return $line }
    return Get-BpResultText (New-BpFittedResult $Result $min $min $true)
}

# Prints the one result line and returns the exit code. Keeps the line within the result budget.
function Write-BpResult($Result) {
    try { $Result.beaconVersion = Get-BpBeaconVersion } catch { $Result.beaconVersion = $null }
    $line = Get-BpResultText $Result
    if ($line.Length -gt [int]$script:BpFacts.result.maxLength) { $line = Get-BpFittedLine $Result }
    [Console]::Out.WriteLine($line)
    if ($Result.ok) { return 0 }
    return 1
}

# ===== ssm-documents/src/module/Documents.ps1 =====
# The three documents: parameters, desired state, configure / verify / rollback and the entry point.
# Runs on Windows PowerShell 5.1 and PowerShell 7; every access to Windows goes through the layer functions.

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
    $previous = Resolve-BpPreviousAccount $State $plan
    $script:BpStep = 'secret'
    $script:BpPassword = Get-BpSecretValue $State
    if ($previous) {
        $script:BpPreviousAccount = $previous
        $script:BpPreviousPassword = (Read-BpPassword $State.previousAccount.passwordRef).password
    }

    $script:BpStep = 'capture'
    $capture = [ordered]@{
        schema = 1; captureId = $State.requestId; root = $plan.root
        service = [ordered]@{ name = $plan.service.name; startName = $plan.service.startName; state = $plan.service.state }
        previous = $null
        entries = (New-Object System.Collections.ArrayList); persist = (-not (Test-BpCaptureExists $State.requestId))
    }
    # The previous account's secret reference (never its password), for the Rollback document.
    if ($previous) { $capture.previous = [ordered]@{ name = $previous; passwordRef = $State.previousAccount.passwordRef } }
    $Result.captureId = $State.requestId
    $all = New-Object System.Collections.ArrayList
    try {
        $stage = New-BpAccountStage $State
        Add-BpCaptureEntries $capture $stage
        Invoke-BpApply $stage $Result.changed $Result.diff
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
        Invoke-BpApply $profileEntries $Result.changed $Result.diff
        Add-BpCaptureEntries $capture $rest
        Invoke-BpApply $rest $Result.changed $Result.diff
        foreach ($entry in $stage) { [void]$all.Add($entry) }
        $script:BpCredentialRotated = $false

        $script:BpStep = 'service'
        $current = Get-BpService $plan.service.name
        if ($Result.changed.Count -gt 0 -or $current.state -ne 'Running') {
            Restart-BpServiceAndWait $plan.service.name ([int]$State.service.startTimeoutSeconds)
            [void]$Result.changed.Add('service:restarted')
            Add-BpDiffText $Result.diff 'service:restarted' ([string]$current.state) ([string](Get-BpService $plan.service.name).state + ' (restarted)')
        }

        $script:BpStep = 'verify'
        Get-BpChecks $all $Result.checks
        $service = Get-BpService $plan.service.name
        [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
        $failed = @($Result.checks | Where-Object { -not $_.ok } | ForEach-Object { $_.name })
        if ($failed.Count -gt 0) { throw (New-BpError 'VERIFY_FAILED' ('read back differs from the desired state: ' + ($failed -join ', '))) }

        # Through the proxy just configured: a beacon that cannot reach FNMS is rolled back.
        if ($State.Contains('probe') -and $null -ne $State.probe -and $State.probe.url) {
            $script:BpStep = 'probe'
            $probe = Invoke-BpEndpointProbe ([string]$State.probe.url) ([string]$State.wininet.proxyServer)
            [void]$Result.checks.Add((New-BpCheck 'endpoint' 'reachable' $probe.status $probe.ok))
            if (-not $probe.ok) { throw (New-BpError 'ENDPOINT_UNREACHABLE' ('FNMS (' + $State.probe.url + ') is not reachable through ' + $probe.proxy + ': ' + $probe.detail + '; check the proxy address and that it allows the beacon')) }
        }
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
    # A local account that does not exist yet is one a run creates (a domain account it only refuses): the
    # plan still shows every value a run would set, those of the account itself as not there yet.
    $creates = ($null -eq $account -and $State.account.createIfMissing)
    if ($creates) { Add-BpDiffText $Result.diff ('account:' + $State.account.name) 'absent' 'present' }
    if ($null -ne $account -or $creates) {
        $sid = $null
        if ($null -ne $account) { $sid = $account.sid }
        $names = Get-BpAccountNames $State $account
        $entries = New-BpSettingsStage $State $plan.root $sid $names $plan.service $plan.tasks.found
        # Settings of an account or a profile that does not exist yet: none of them is there, a run writes them all.
        $absent = @()
        if ($null -eq $sid) { $absent = @($entries | Where-Object { $_.Contains('sid') -or ($_.Contains('path') -and ([string]$_.path).StartsWith('HKU\')) }) }
        elseif (@($entries | Where-Object { $_.hive }).Count -gt 0 -and $null -eq (Get-BpProfile $sid)) {
            $absent = @($entries | Where-Object { $_.hive })
            [void]$Result.checks.Add((New-BpCheck 'wininet' 'profile with proxy settings' 'no profile' $false))
        }
        if ($absent.Count -eq 0) { Get-BpChecks $entries $Result.checks $Result.diff }
        else {
            foreach ($entry in $entries) {
                if ($absent -contains $entry) { if ($null -ne $entry.desired) { Add-BpDiff $Result.diff $entry $null (Get-BpPlannedValue $entry $null) 'planned' } }
                else { Get-BpChecks @($entry) $Result.checks $Result.diff }
            }
        }
    }
    $service = Get-BpService $plan.service.name
    [void]$Result.checks.Add((New-BpCheck 'service:state' 'Running' $service.state ($service.state -eq 'Running')))
    if ($service.state -ne 'Running') { Add-BpDiffText $Result.diff 'service:state' ([string]$service.state) 'Running' }
    if ($CheckEndpoint -and $CheckEndpoint -ne 'none') {
        $script:BpStep = 'probe'
        $probe = Invoke-BpEndpointProbe $CheckEndpoint ([string]$State.wininet.proxyServer)
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
    if ($capture.Contains('previous') -and $null -ne $capture.previous) {
        $script:BpStep = 'secret'
        $script:BpPreviousAccount = [string]$capture.previous.name
        $script:BpPreviousPassword = (Read-BpPassword ([string]$capture.previous.passwordRef)).password
        $script:BpStep = 'rollback'
    }
    $Result.rollback = Restore-BpCapture $capture $Result.checks
    foreach ($id in @($Result.rollback.restored)) { [void]$Result.changed.Add($id) }
    if ($Result.rollback.ok) { $Result.ok = $true }
    else { $Result.error = [ordered]@{ code = 'ROLLBACK_FAILED'; message = $Result.rollback.error; step = 'rollback' } }
}

function Reset-BpRunState {
    $script:BpStep = 'start'
    $script:BpPassword = $null
    $script:BpPreviousAccount = $null
    $script:BpPreviousPassword = $null
    $script:BpSecretVersion = $null
    $script:BpCredentialRotated = $false
    $script:BpSecretTexts.Clear()
}

function Invoke-BpDocument([string]$Kind, [hashtable]$Parameters) {
    Reset-BpRunState
    $result = New-BpResult $Kind
    $lock = $null
    try {
        if ($script:BpLayerError) { throw (New-BpError 'LAYER_MISSING' $script:BpLayerError) }
        # One document at a time on a beacon: the lock is held for the whole time the box is read or changed.
        $script:BpStep = 'lock'
        $lock = Enter-BpDocumentLock $result
        Open-BpLayer
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
    $script:BpPreviousPassword = $null
    if (-not $script:BpLayerError -and $null -ne $lock) {
        try { Complete-BpLayer } catch { Set-BpResultError $result $_; $result.ok = $false }
    }
    if ($null -ne $lock) { Exit-BpDocumentLock $lock }
    return (Write-BpResult $result)
}

# ===== ssm-documents/src/WindowsLayer.ps1 =====
# The Windows layer: the only code that touches the beacon. Same functions as the fake layer
# (ssm-documents/fake/FakeBeaconLayer.ps1); the module above calls nothing else.
# Registry access uses the 64-bit view so the explicit WOW6432Node paths mean what they say.

$script:BpNative = $null

function Initialize-BpNative {
    if ($null -ne $script:BpNative) { return }
    Add-Type -TypeDefinition @'
using System;
using System.Runtime.InteropServices;
using System.Text;
public static class BeaconProxyNative {
    [StructLayout(LayoutKind.Sequential)] struct LSA_UNICODE_STRING { public ushort Length; public ushort MaximumLength; public IntPtr Buffer; }
    [StructLayout(LayoutKind.Sequential)] struct LSA_OBJECT_ATTRIBUTES { public int Length; public IntPtr RootDirectory; public IntPtr ObjectName; public uint Attributes; public IntPtr SecurityDescriptor; public IntPtr SecurityQualityOfService; }
    [DllImport("advapi32.dll")] static extern uint LsaOpenPolicy(IntPtr system, ref LSA_OBJECT_ATTRIBUTES attributes, uint access, out IntPtr handle);
    [DllImport("advapi32.dll")] static extern uint LsaAddAccountRights(IntPtr policy, byte[] sid, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaRemoveAccountRights(IntPtr policy, byte[] sid, [MarshalAs(UnmanagedType.U1)] bool all, LSA_UNICODE_STRING[] rights, uint count);
    [DllImport("advapi32.dll")] static extern uint LsaEnumerateAccountRights(IntPtr policy, byte[] sid, out IntPtr rights, out uint count);
    [DllImport("advapi32.dll")] static extern uint LsaFreeMemory(IntPtr buffer);
    [DllImport("advapi32.dll")] static extern uint LsaClose(IntPtr handle);
    [DllImport("advapi32.dll")] static extern int LsaNtStatusToWinError(uint status);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode)] public static extern int CreateProfile(string sid, string userName, StringBuilder path, uint size);
    [DllImport("userenv.dll", CharSet = CharSet.Unicode, SetLastError = true)] public static extern bool DeleteProfile(string sid, string path, string computer);
    const uint PolicyAll = 0x00000800 | 0x00000010 | 0x00000001;
    const uint NoRights = 0xC0000034;

    static IntPtr Open() {
        LSA_OBJECT_ATTRIBUTES attributes = new LSA_OBJECT_ATTRIBUTES();
        IntPtr handle;
        Check(LsaOpenPolicy(IntPtr.Zero, ref attributes, PolicyAll, out handle), "LsaOpenPolicy");
        return handle;
    }
    static void Check(uint status, string call) {
        if (status != 0) throw new System.ComponentModel.Win32Exception(LsaNtStatusToWinError(status), call + " failed");
    }
    static LSA_UNICODE_STRING[] Rights(string right) {
        LSA_UNICODE_STRING value = new LSA_UNICODE_STRING();
        value.Buffer = Marshal.StringToHGlobalUni(right);
        value.Length = (ushort)(right.Length * 2);
        value.MaximumLength = (ushort)(right.Length * 2 + 2);
        return new LSA_UNICODE_STRING[] { value };
    }
    public static string[] GetRights(byte[] sid) {
        IntPtr policy = Open();
        try {
            IntPtr buffer; uint count;
            uint status = LsaEnumerateAccountRights(policy, sid, out buffer, out count);
            if (status == NoRights) return new string[0];
            Check(status, "LsaEnumerateAccountRights");
            try {
                string[] result = new string[count];
                int size = Marshal.SizeOf(typeof(LSA_UNICODE_STRING));
                for (int i = 0; i < count; i++) {
                    LSA_UNICODE_STRING item = (LSA_UNICODE_STRING)Marshal.PtrToStructure(new IntPtr(buffer.ToInt64() + i * size), typeof(LSA_UNICODE_STRING));
                    result[i] = Marshal.PtrToStringUni(item.Buffer, item.Length / 2);
                }
                return result;
            } finally { LsaFreeMemory(buffer); }
        } finally { LsaClose(policy); }
    }
    public static void SetRight(byte[] sid, string right, bool grant) {
        IntPtr policy = Open();
        LSA_UNICODE_STRING[] rights = Rights(right);
        try {
            if (grant) Check(LsaAddAccountRights(policy, sid, rights, 1), "LsaAddAccountRights");
            else Check(LsaRemoveAccountRights(policy, sid, false, rights, 1), "LsaRemoveAccountRights");
        } finally { Marshal.FreeHGlobal(rights[0].Buffer); LsaClose(policy); }
    }
}
'@
    $script:BpNative = $true
}

function Get-BpComputerName { return $env:COMPUTERNAME }

# ---------------------------------------------------------------- registry

function Split-BpRegistryPath([string]$Path) {
    if ($Path -match '^HKLM\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::LocalMachine; key = $Matches[1] } }
    if ($Path -match '^HKU\\(.+)$') { return [ordered]@{ hive = [Microsoft.Win32.RegistryHive]::Users; key = $Matches[1] } }
    throw ('unsupported registry path ' + $Path)
}

function Open-BpRegistryKey([string]$Path, [bool]$Writable, [bool]$Create) {
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try {
        if ($Create) { return $base.CreateSubKey($parts.key) }
        return $base.OpenSubKey($parts.key, $Writable)
    } finally { $base.Dispose() }
}

function Test-BpRegistryKey([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $false }
    $key.Dispose()
    return $true
}

function Get-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return $null }
    try {
        if (@($key.GetValueNames()) -notcontains $Name) { return $null }
        $kind = $key.GetValueKind($Name)
        $data = $key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $data = [System.Convert]::ToBase64String([byte[]]$data) }
        return [ordered]@{ type = [string]$kind; data = $data }
    } finally { $key.Dispose() }
}

function Set-BpRegistryValue([string]$Path, [string]$Name, [string]$Type, $Data) {
    $key = Open-BpRegistryKey $Path $true $true
    try {
        $kind = [Microsoft.Win32.RegistryValueKind]$Type
        $value = $Data
        if ($kind -eq [Microsoft.Win32.RegistryValueKind]::Binary) { $value = [System.Convert]::FromBase64String([string]$Data) }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::DWord) { $value = [int]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::QWord) { $value = [long]$Data }
        elseif ($kind -eq [Microsoft.Win32.RegistryValueKind]::MultiString) { $value = [string[]]@($Data) }
        $key.SetValue($Name, $value, $kind)
    } finally { $key.Dispose() }
}

function Remove-BpRegistryValue([string]$Path, [string]$Name) {
    $key = Open-BpRegistryKey $Path $true $false
    if ($null -eq $key) { return }
    try { $key.DeleteValue($Name, $false) } finally { $key.Dispose() }
}

function Remove-BpRegistryKeyIfEmpty([string]$Path) {
    $key = Open-BpRegistryKey $Path $false $false
    if ($null -eq $key) { return }
    try { $empty = ($key.ValueCount -eq 0 -and $key.SubKeyCount -eq 0) } finally { $key.Dispose() }
    if (-not $empty) { return }
    $parts = Split-BpRegistryPath $Path
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($parts.hive, [Microsoft.Win32.RegistryView]::Registry64)
    try { $base.DeleteSubKey($parts.key, $false) } finally { $base.Dispose() }
}

# ---------------------------------------------------------------- accounts

function Resolve-BpAccount([string]$Name) {
    $wanted = $Name
    if ($wanted -match '^\.\\(.+)$') { $wanted = $env:COMPUTERNAME + '\' + $Matches[1] }
    if ($wanted -eq 'LocalSystem') { $wanted = 'NT AUTHORITY\SYSTEM' }
    try {
        # The task scheduler may give a principal as a SID: take it as one.
        if ($wanted -match '^S-1-\d+(-\d+)+$') { $sid = New-Object System.Security.Principal.SecurityIdentifier($wanted) }
        else { $sid = (New-Object System.Security.Principal.NTAccount($wanted)).Translate([System.Security.Principal.SecurityIdentifier]) }
        $ntName = $sid.Translate([System.Security.Principal.NTAccount]).Value
        return [ordered]@{ sid = $sid.Value; name = $ntName }
    } catch { return $null }
}

# ADSI method calls, not cmdlets: module logging (event 4103) records cmdlet parameters, a password too.
function New-BpLocalAccount([string]$Name, [string]$Password) {
    $computer = [ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')
    $user = $computer.Create('User', $Name)
    $user.SetPassword($Password)
    $user.Put('Description', 'FlexNet Beacon service account (beacon-proxy)')
    # ADS_UF_DONT_EXPIRE_PASSWD (0x10000) | ADS_UF_NORMAL_ACCOUNT (0x200)
    $user.Put('UserFlags', 0x10200)
    $user.SetInfo()
}

function Remove-BpLocalAccount([string]$Sid) {
    $name = (New-Object System.Security.Principal.SecurityIdentifier($Sid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
    ([ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')).Delete('User', $name)
}

function ConvertTo-BpSidBytes([string]$Sid) {
    $identifier = New-Object System.Security.Principal.SecurityIdentifier($Sid)
    $bytes = New-Object byte[] $identifier.BinaryLength
    $identifier.GetBinaryForm($bytes, 0)
    return , $bytes
}

# ---------------------------------------------------------------- rights (LSA) and groups (ADSI)

function Get-BpAccountRights([string]$Sid) {
    Initialize-BpNative
    return @([BeaconProxyNative]::GetRights((ConvertTo-BpSidBytes $Sid)))
}

function Add-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $true) }

function Remove-BpAccountRight([string]$Sid, [string]$Right) { Initialize-BpNative; [BeaconProxyNative]::SetRight((ConvertTo-BpSidBytes $Sid), $Right, $false) }

function Get-BpGroup([string]$GroupSid) {
    $name = (New-Object System.Security.Principal.SecurityIdentifier($GroupSid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
    return [ADSI]('WinNT://' + $env:COMPUTERNAME + '/' + $name + ',group')
}

function Get-BpGroupMembers([string]$GroupSid) {
    $members = @()
    foreach ($member in @((Get-BpGroup $GroupSid).Invoke('Members'))) {
        $bytes = [byte[]]$member.GetType().InvokeMember('objectSid', 'GetProperty', $null, $member, $null)
        $members += (New-Object System.Security.Principal.SecurityIdentifier($bytes, 0)).Value
    }
    return $members
}

function Add-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Add('WinNT://' + $Sid) }

function Remove-BpGroupMember([string]$GroupSid, [string]$Sid) { (Get-BpGroup $GroupSid).Remove('WinNT://' + $Sid) }

# ---------------------------------------------------------------- profiles and hives

function Get-BpProfile([string]$Sid) {
    $entry = Get-BpRegistryValue ('HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\' + $Sid) 'ProfileImagePath'
    if ($null -eq $entry) { return $null }
    return [ordered]@{ path = [Environment]::ExpandEnvironmentVariables([string]$entry.data); loaded = (Test-BpRegistryKey ('HKU\' + $Sid)) }
}

function New-BpProfile([string]$Sid, [string]$Name) {
    Initialize-BpNative
    $path = New-Object System.Text.StringBuilder 260
    $hresult = [BeaconProxyNative]::CreateProfile($Sid, ($Name -split '\\')[-1], $path, 260)
    if ($hresult -ne 0) { throw ('CreateProfile failed: 0x' + $hresult.ToString('X8')) }
}

function Remove-BpProfile([string]$Sid) {
    Initialize-BpNative
    if (-not [BeaconProxyNative]::DeleteProfile($Sid, $null, $null)) { throw ('DeleteProfile failed: ' + [Runtime.InteropServices.Marshal]::GetLastWin32Error()) }
}

function Invoke-BpReg([string[]]$Arguments) {
    # On 5.1, stderr of a native command redirected with 2>&1 throws under ErrorActionPreference Stop.
    $ErrorActionPreference = 'Continue'
    $output = & "$env:SystemRoot\System32\reg.exe" @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw ('reg.exe ' + $Arguments[0] + ' failed: ' + (($output | ForEach-Object { [string]$_ }) -join ' ')) }
}

function Mount-BpUserHive([string]$Sid, [string]$ProfilePath) { Invoke-BpReg @('load', ('HKU\' + $Sid), (Join-Path $ProfilePath 'NTUSER.DAT')) }

function Dismount-BpUserHive([string]$Sid) { Invoke-BpReg @('unload', ('HKU\' + $Sid)) }

# ---------------------------------------------------------------- services

function Get-BpWin32Service([string]$Name) {
    $escaped = $Name.Replace('\', '\\').Replace("'", "\'")
    return Get-CimInstance -ClassName Win32_Service -Filter ("DisplayName='" + $escaped + "' OR Name='" + $escaped + "'") | Select-Object -First 1
}

function Get-BpService([string]$Name) {
    $service = Get-BpWin32Service $Name
    if ($null -eq $service) { return $null }
    return [ordered]@{ name = $service.Name; displayName = $service.DisplayName; startName = $service.StartName; state = $service.State; exitCode = $service.ExitCode }
}

# Win32_Service.Change through a WMI method call: a cmdlet parameter would put the password in module logging.
function Set-BpServiceLogon([string]$Name, [string]$StartName, $Password) {
    $service = Get-BpWin32Service $Name
    $wmi = [System.Management.ManagementObject]('Win32_Service.Name=''' + $service.Name + '''')
    $secret = $null
    if ($null -ne $Password) { $secret = [string]$Password } elseif ($StartName -eq 'LocalSystem') { $secret = '' }
    $outcome = $wmi.Change($null, $null, $null, $null, $null, $null, $StartName, $secret, $null, $null, $null)
    if ($outcome.ReturnValue -ne 0) { throw ('Win32_Service.Change returned ' + $outcome.ReturnValue + ' for ' + $StartName) }
}

# Stop and start only ask; the module waits with a bound (Stop-Service / Start-Service wait without one).
function Get-BpServiceController([string]$Name) {
    Add-Type -AssemblyName System.ServiceProcess
    return (New-Object System.ServiceProcess.ServiceController((Get-BpWin32Service $Name).Name))
}

function Request-BpServiceStop([string]$Name) {
    $controller = Get-BpServiceController $Name
    try { if ($controller.Status -ne [System.ServiceProcess.ServiceControllerStatus]::Stopped) { $controller.Stop() } } finally { $controller.Dispose() }
}

function Request-BpServiceStart([string]$Name) {
    $controller = Get-BpServiceController $Name
    try { $controller.Start() } finally { $controller.Dispose() }
}

# ---------------------------------------------------------------- scheduled tasks

function Find-BpTask([string]$Name) {
    $found = @()
    foreach ($task in @(Get-ScheduledTask -TaskName $Name -ErrorAction SilentlyContinue)) {
        $found += [ordered]@{ path = $task.TaskPath; name = $task.TaskName; userId = $task.Principal.UserId; logonType = [string]$task.Principal.LogonType; runLevel = [string]$task.Principal.RunLevel }
    }
    return $found
}

# Through the Task Scheduler COM API: Set-ScheduledTask -Password would put the password in module logging.
function Set-BpTaskPrincipal([string]$TaskPath, [string]$TaskName, [string]$UserId, [string]$LogonType, [string]$RunLevel, $Password) {
    $scheduler = New-Object -ComObject Schedule.Service
    $scheduler.Connect()
    $folder = $scheduler.GetFolder($TaskPath.TrimEnd('\'))
    if (-not $TaskPath.TrimEnd('\')) { $folder = $scheduler.GetFolder('\') }
    $definition = $folder.GetTask($TaskName).Definition
    # TASK_RUNLEVEL_LUA = 0, TASK_RUNLEVEL_HIGHEST = 1
    $definition.Principal.RunLevel = 0
    if ($RunLevel -eq 'Highest') { $definition.Principal.RunLevel = 1 }
    # TASK_LOGON_PASSWORD = 1, TASK_LOGON_S4U = 2, TASK_LOGON_INTERACTIVE_TOKEN = 3, TASK_LOGON_SERVICE_ACCOUNT = 5
    $logon = @{ Password = 1; S4U = 2; Interactive = 3; ServiceAccount = 5 }[$LogonType]
    if ($null -eq $logon) { throw ('unsupported task logon type ' + $LogonType) }
    $definition.Principal.UserId = $UserId
    $definition.Principal.LogonType = $logon
    $secret = $null
    if ($logon -eq 1 -and $null -ne $Password -and $Password -ne '') { $secret = [string]$Password }
    # TASK_CREATE_OR_UPDATE = 6
    [void]$folder.RegisterTaskDefinition($TaskName, $definition, 6, $UserId, $secret, $logon)
}

# ---------------------------------------------------------------- secrets through the instance role

# Base URLs of IMDS and the AWS endpoints: the real ones, unless a test points them at local stubs.
function Get-BpAwsEndpoint([string]$Name, [string]$Default) {
    if ($env:BEACON_PROXY_TEST_ENDPOINTS) {
        $endpoints = ConvertFrom-BpJson $env:BEACON_PROXY_TEST_ENDPOINTS
        if ($endpoints.Contains($Name)) { return [string]$endpoints[$Name] }
    }
    return $Default
}

# One HTTP call with an explicitly empty proxy: a machine-wide proxy must not catch the script's own AWS
# and IMDS traffic. HttpWebRequest works the same on 5.1 and 7.
function Invoke-BpHttp([string]$Method, [string]$Uri, $Headers, [string]$Body, [int]$TimeoutSeconds, [string]$HostHeader) {
    $request = [System.Net.HttpWebRequest][System.Net.WebRequest]::Create($Uri)
    $request.Method = $Method
    $request.Proxy = $null
    $request.Timeout = $TimeoutSeconds * 1000
    if ($HostHeader) { $request.Host = $HostHeader }
    if ($null -ne $Headers) {
        foreach ($name in @($Headers.Keys)) {
            if ($name -eq 'content-type') { $request.ContentType = [string]$Headers[$name] } else { $request.Headers.Add($name, [string]$Headers[$name]) }
        }
    }
    if ($Body) {
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Body)
        $stream = $request.GetRequestStream()
        try { $stream.Write($bytes, 0, $bytes.Length) } finally { $stream.Dispose() }
    }
    $response = $null
    try {
        try { $response = $request.GetResponse() }
        catch [System.Net.WebException] { if ($null -eq $_.Exception.Response) { throw }; $response = $_.Exception.Response }
        $reader = New-Object System.IO.StreamReader($response.GetResponseStream(), [System.Text.Encoding]::UTF8)
        try { $text = $reader.ReadToEnd() } finally { $reader.Dispose() }
        return [ordered]@{ status = [int]$response.StatusCode; body = $text }
    } finally { if ($null -ne $response) { $response.Close() } }
}

function Get-BpImdsToken {
    $imds = Get-BpAwsEndpoint 'imds' 'http://169.254.169.254'
    try { $answer = Invoke-BpHttp 'PUT' ($imds + '/latest/api/token') @{ 'X-aws-ec2-metadata-token-ttl-seconds' = '300' } '' 2 '' } catch { return $null }
    if ($answer.status -ne 200) { return $null }
    return $answer.body
}

function Get-BpImdsValue([string]$Token, [string]$Path) {
    $imds = Get-BpAwsEndpoint 'imds' 'http://169.254.169.254'
    $answer = Invoke-BpHttp 'GET' ($imds + '/latest/' + $Path) @{ 'X-aws-ec2-metadata-token' = $Token } '' 5 ''
    if ($answer.status -ne 200) { throw (New-BpError 'SECRET_NOT_FOUND' ('the instance metadata service answered ' + $answer.status + ' for ' + $Path)) }
    return $answer.body
}

# The profile of an AWS shared credentials file (INI), or $null.
function Read-BpSharedCredentials([string]$Path, [string]$ProfileName) {
    $section = $null
    $values = @{}
    foreach ($line in [System.IO.File]::ReadAllLines($Path)) {
        $text = $line.Trim()
        if ($text -match '^\[\s*(.+?)\s*\]$') { $section = $Matches[1]; continue }
        if ($section -eq $ProfileName -and $text -match '^([A-Za-z_]+)\s*=\s*(.*)$') { $values[$Matches[1].ToLowerInvariant()] = $Matches[2].Trim() }
    }
    if (-not $values['aws_access_key_id'] -or -not $values['aws_secret_access_key']) { return $null }
    return [ordered]@{ accessKey = $values['aws_access_key_id']; secretKey = $values['aws_secret_access_key']; token = $values['aws_session_token']; source = 'shared credentials file' }
}

# The credentials the SSM Agent gives the script, in the order the AWS SDKs use: environment, the shared
# credentials file (hybrid mi- nodes and Default Host Management have no instance profile), then IMDSv2.
function Get-BpAwsCredentials {
    if ($env:AWS_ACCESS_KEY_ID -and $env:AWS_SECRET_ACCESS_KEY) {
        return [ordered]@{ accessKey = $env:AWS_ACCESS_KEY_ID; secretKey = $env:AWS_SECRET_ACCESS_KEY; token = $env:AWS_SESSION_TOKEN; source = 'environment' }
    }
    $file = $env:AWS_SHARED_CREDENTIALS_FILE
    if (-not $file -and $env:USERPROFILE) { $file = Join-Path $env:USERPROFILE '.aws\credentials' }
    if ($file -and (Test-Path -LiteralPath $file)) {
        $profileName = 'default'
        if ($env:AWS_PROFILE) { $profileName = $env:AWS_PROFILE }
        $shared = Read-BpSharedCredentials $file $profileName
        if ($null -ne $shared) { return $shared }
    }
    $token = Get-BpImdsToken
    if (-not $token) { throw (New-BpError 'SECRET_NOT_FOUND' 'no AWS credentials: no AWS_* environment, no shared credentials file and no instance metadata; is the SSM Agent registered?') }
    $role = (Get-BpImdsValue $token 'meta-data/iam/security-credentials/').Trim()
    $credentials = ConvertFrom-BpJson (Get-BpImdsValue $token ('meta-data/iam/security-credentials/' + $role))
    return [ordered]@{ accessKey = $credentials.AccessKeyId; secretKey = $credentials.SecretAccessKey; token = $credentials.Token; source = 'instance profile' }
}

# The region of a secret: its ARN, else the agent's environment, else IMDS. A parameter given by name
# on a machine without any of these cannot be located: the request must give its ARN.
function Get-BpAwsRegion([string]$Reference) {
    if ($Reference -match '^arn:[^:]+:[^:]+:([^:]+):') { return $Matches[1] }
    if ($env:AWS_REGION) { return $env:AWS_REGION }
    if ($env:AWS_DEFAULT_REGION) { return $env:AWS_DEFAULT_REGION }
    $token = Get-BpImdsToken
    if ($token) { return (Get-BpImdsValue $token 'meta-data/placement/region').Trim() }
    throw (New-BpError 'SECRET_REGION_UNKNOWN' ('the region of ' + $Reference + ' cannot be known on this machine (no instance metadata, no AWS_REGION); give the parameter as an ARN'))
}

function Invoke-BpAwsJson([string]$Service, [string]$Region, [string]$Target, [string]$Body, $Credentials) {
    $hostName = $Service + '.' + $Region + '.amazonaws.com'
    $headers = New-BpSigV4Headers 'POST' $hostName '/' $Body $Service $Region $Target $Credentials ([DateTime]::UtcNow)
    $headers['content-type'] = 'application/x-amz-json-1.1'
    $base = Get-BpAwsEndpoint 'aws' ('https://' + $hostName)
    $hostHeader = ''
    if ($base -ne ('https://' + $hostName)) { $hostHeader = $hostName }
    $answer = Invoke-BpHttp 'POST' ($base + '/') $headers $Body 20 $hostHeader
    if ($answer.status -ne 200) {
        # Only the AWS error type goes into the message: the body of an error is not ours to print.
        $type = 'unknown error'
        try { $type = ([string](ConvertFrom-BpJson $answer.body).__type).Split('#')[-1] } catch { }
        throw (New-BpError 'SECRET_NOT_FOUND' ($Service + ' answered ' + $answer.status + ' ' + $type + ' (credentials from the ' + $Credentials.source + ')'))
    }
    return ConvertFrom-BpJson $answer.body
}

# The secret as stored (the module picks the password out of it) and its version, through the REST API
# signed with the agent's credentials. No AWS Tools: the same code runs on every beacon and in the tests.
function Get-BpSecret([string]$Reference) {
    $isSecret = $Reference -like 'arn:*:secretsmanager:*'
    $region = Get-BpAwsRegion $Reference
    $credentials = Get-BpAwsCredentials
    if ($isSecret) {
        $answer = Invoke-BpAwsJson 'secretsmanager' $region 'secretsmanager.GetSecretValue' (ConvertTo-BpJson ([ordered]@{ SecretId = $Reference })) $credentials
        return [ordered]@{ value = [string]$answer.SecretString; version = [string]$answer.VersionId }
    }
    $answer = Invoke-BpAwsJson 'ssm' $region 'AmazonSSM.GetParameter' (ConvertTo-BpJson ([ordered]@{ Name = $Reference; WithDecryption = $true })) $credentials
    return [ordered]@{ value = [string]$answer.Parameter.Value; version = [string]$answer.Parameter.Version }
}

function Get-BpBeaconVersion {
    foreach ($root in @('HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')) {
        $key = Open-BpRegistryKey $root $false $false
        if ($null -eq $key) { continue }
        try {
            foreach ($name in $key.GetSubKeyNames()) {
                $display = Get-BpRegistryValue ($root + '\' + $name) 'DisplayName'
                if ($null -ne $display -and [string]$display.data -like 'FlexNet Beacon*') {
                    $version = Get-BpRegistryValue ($root + '\' + $name) 'DisplayVersion'
                    if ($null -ne $version) { return [string]$version.data }
                }
            }
        } finally { $key.Dispose() }
    }
    return $null
}

function Get-BpCaptureDirectory { return (Join-Path $env:ProgramData 'BeaconProxy\captures') }

# SYSTEM and Administrators only, not inherited: %ProgramData% lets Users create files and folders.
function New-BpProtectedSecurity([bool]$Directory) {
    if ($Directory) { $security = New-Object System.Security.AccessControl.DirectorySecurity } else { $security = New-Object System.Security.AccessControl.FileSecurity }
    $security.SetAccessRuleProtection($true, $false)
    $inherit = [System.Security.AccessControl.InheritanceFlags]::None
    if ($Directory) { $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit' }
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
        $security.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($identity, [System.Security.AccessControl.FileSystemRights]::FullControl, $inherit, [System.Security.AccessControl.PropagationFlags]::None, [System.Security.AccessControl.AccessControlType]::Allow)))
    }
    $security.SetOwner((New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-544')))
    return $security
}

# Creates the capture folder (and its parent) with the protected DACL, or takes back one a user created.
function Initialize-BpCaptureDirectory([string]$Path) {
    foreach ($directory in @((Split-Path -Parent $Path), $Path)) {
        if (-not (Test-Path -LiteralPath $directory)) { [void](New-Item -ItemType Directory -Path $directory -Force) }
        if ($null -ne (Test-BpProtectedPath $directory)) { [System.IO.Directory]::SetAccessControl($directory, (New-BpProtectedSecurity $true)) }
    }
}

function Write-BpProtectedFile([string]$Path, [string]$Text) {
    [System.IO.File]::WriteAllText($Path, $Text, (New-Object System.Text.UTF8Encoding($false)))
    [System.IO.File]::SetAccessControl($Path, (New-BpProtectedSecurity $false))
}

# $null when only SYSTEM and Administrators own and may change $Path; else why not.
function Test-BpProtectedPath([string]$Path) {
    if (Test-Path -LiteralPath $Path -PathType Container) { $security = [System.IO.Directory]::GetAccessControl($Path) } else { $security = [System.IO.File]::GetAccessControl($Path) }
    $trusted = @('S-1-5-18', 'S-1-5-32-544')
    $owner = $security.GetOwner([System.Security.Principal.SecurityIdentifier]).Value
    if ($trusted -notcontains $owner) { return ('owned by ' + $owner) }
    $write = [System.Security.AccessControl.FileSystemRights]'Write, Delete, ChangePermissions, TakeOwnership, DeleteSubdirectoriesAndFiles'
    foreach ($rule in $security.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        if ($rule.AccessControlType -ne [System.Security.AccessControl.AccessControlType]::Allow) { continue }
        if (($rule.FileSystemRights -band $write) -ne 0 -and $trusted -notcontains $rule.IdentityReference.Value) { return ($rule.IdentityReference.Value + ' may change it') }
    }
    return $null
}

function Test-BpProtectedFile([string]$Path) {
    $reason = Test-BpProtectedPath (Split-Path -Parent $Path)
    if ($reason) { return ('its folder is ' + $reason) }
    return (Test-BpProtectedPath $Path)
}

function Wait-BpInterval([int]$Seconds) { Start-Sleep -Seconds $Seconds }

# The real layer reads and writes Windows directly: nothing to open or flush around a document.
function Open-BpLayer { }

function Complete-BpLayer { }

# The document lock as the contract names it (the fake gives each modelled beacon its own).
function Get-BpDocumentLock($Contract) { return $Contract }

# A proxy host:port as the beacon reaches it (the fake maps modelled proxy names to local test proxies).
function Get-BpProxyEndpoint([string]$HostPort) { return $HostPort }
