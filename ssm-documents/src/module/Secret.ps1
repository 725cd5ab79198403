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
